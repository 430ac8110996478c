"""Agent configuration as JSON trees: the defaults a new agent gets, PATCH's deep merge and the
knowledge-base references inside a configuration.

Owns pure functions over JSON values. Must not hold state, read the clock or know about HTTP.
"""

from __future__ import annotations

from kbctl.emulator.workspace.records import DEFAULT_EMBEDDING_MODEL, Json, json_copy

DEFAULT_VOICE_ID = "cjVigY5qzO86Huf0OWal"

RAG_DEFAULTS: Json = {
    "enabled": False,
    "embedding_model": DEFAULT_EMBEDDING_MODEL,
    "max_vector_distance": 0.6,
    "max_documents_length": 50000,
    "max_retrieved_rag_chunks_count": 20,
}


def default_conversation_config() -> Json:
    """The configuration of a freshly created agent (what GET shows before any PATCH)."""
    return {
        "asr": {
            "quality": "high",
            "provider": "elevenlabs",
            "user_input_audio_format": "pcm_16000",
            "keywords": [],
        },
        "turn": {"turn_timeout": 7.0, "mode": "turn"},
        "tts": {
            "model_id": "eleven_flash_v2",
            "voice_id": DEFAULT_VOICE_ID,
            "agent_output_audio_format": "pcm_16000",
            "optimize_streaming_latency": 3,
            "stability": 0.5,
            "speed": 1.0,
            "similarity_boost": 0.8,
        },
        "conversation": {"text_only": False, "max_duration_seconds": 600},
        "language_presets": {},
        "agent": {
            "first_message": "",
            "language": "en",
            "prompt": {
                "prompt": "",
                "llm": "gemini-2.0-flash",
                "temperature": 0.0,
                "max_tokens": -1,
                "tool_ids": [],
                "knowledge_base": [],
                "ignore_default_personality": False,
                "rag": dict(RAG_DEFAULTS),
            },
        },
    }


def deep_merge(base: Json, patch: Json) -> Json:
    """`base` updated by `patch`: objects merge key by key, everything else (arrays included)
    replaces wholesale. An explicit `null` sets the key to `null`. Neither input is modified."""
    out = json_copy(base)
    for key, value in patch.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = deep_merge(current, value)
        else:
            out[key] = json_copy(value)
    return out


def _child(obj: object, key: str) -> Json | None:
    if isinstance(obj, dict):
        value = obj.get(key)
        if isinstance(value, dict):
            return value
    return None


def prompt_of(conversation_config: Json) -> Json | None:
    """`conversation_config.agent.prompt`, if present."""
    return _child(_child(conversation_config, "agent"), "prompt")


def prompt_locators(conversation_config: Json) -> list[Json]:
    """The agent's `knowledge_base` entries."""
    prompt = prompt_of(conversation_config)
    kb = prompt.get("knowledge_base") if prompt is not None else None
    return [e for e in kb if isinstance(e, dict)] if isinstance(kb, list) else []


def rag_of(conversation_config: Json) -> Json:
    """The agent's RAG settings, with the API defaults filled in."""
    prompt = prompt_of(conversation_config)
    rag = prompt.get("rag") if prompt is not None else None
    merged = dict(RAG_DEFAULTS)
    if isinstance(rag, dict):
        merged.update({k: v for k, v in rag.items() if v is not None})
    return merged


def _workflow_lists(workflow: Json | None) -> list[list[object]]:
    """The `additional_knowledge_base` arrays of the workflow's nodes."""
    nodes = workflow.get("nodes") if workflow is not None else None
    out: list[list[object]] = []
    if isinstance(nodes, dict):
        for node in nodes.values():
            extra = node.get("additional_knowledge_base") if isinstance(node, dict) else None
            if isinstance(extra, list):
                out.append(extra)
    return out


def all_locators(conversation_config: Json, workflow: Json | None) -> list[Json]:
    """Every KB reference of a configuration: the prompt's and the workflow nodes'."""
    found = prompt_locators(conversation_config)
    for extra in _workflow_lists(workflow):
        found.extend(e for e in extra if isinstance(e, dict))
    return found


def referenced_ids(conversation_config: Json, workflow: Json | None) -> set[str]:
    """Ids of every document or folder a configuration references."""
    return {str(e.get("id")) for e in all_locators(conversation_config, workflow) if e.get("id")}


def without_ids(
    conversation_config: Json, workflow: Json | None, ids: set[str]
) -> tuple[Json, Json | None]:
    """Copies of both with every reference to `ids` removed (what a forced delete does)."""
    cc = json_copy(conversation_config)
    wf = json_copy(workflow)
    prompt = prompt_of(cc)
    if prompt is not None and isinstance(prompt.get("knowledge_base"), list):
        kb = prompt["knowledge_base"]
        assert isinstance(kb, list)
        prompt["knowledge_base"] = [
            e for e in kb if not (isinstance(e, dict) and e.get("id") in ids)
        ]
    for extra in _workflow_lists(wf):
        extra[:] = [e for e in extra if not (isinstance(e, dict) and e.get("id") in ids)]
    return cc, wf


def normalise_locators(conversation_config: Json) -> None:
    """Fill `usage_mode` (default `auto`) in the prompt's KB entries, in place."""
    prompt = prompt_of(conversation_config)
    if prompt is None or not isinstance(prompt.get("knowledge_base"), list):
        return
    kb = prompt["knowledge_base"]
    assert isinstance(kb, list)
    for entry in kb:
        if isinstance(entry, dict) and entry.get("usage_mode") is None:
            entry["usage_mode"] = "auto"


def rename_locators(
    conversation_config: Json, workflow: Json | None, names: dict[str, str]
) -> None:
    """Set every KB entry's `name` to `names[id]` where known, in place (both trees)."""
    for entry in all_locators(conversation_config, workflow):
        current = names.get(str(entry.get("id")))
        if current is not None:
            entry["name"] = current
