"""The 422 checks of agent bodies (create and PATCH): the knowledge-base locators and RAG
settings inside `conversation_config` and workflow nodes, worded as FastAPI words them.

Owns schema checks of agent JSON. Must not decide anything about state (unknown ids and the
like are the workspace's answers).
"""

from __future__ import annotations

from kbctl.emulator.http.validation import Checker, Loc
from kbctl.emulator.workspace.records import DOC_TYPES, EMBEDDING_MODELS, USAGE_MODES, Json


def _check_locators(ck: Checker, items: list[object], loc: Loc) -> None:
    for i, item in enumerate(items):
        here = (*loc, i)
        if not isinstance(item, dict):
            ck.fail(
                here,
                "model_type",
                "Input should be a valid dictionary or instance of KnowledgeBaseLocator",
                item,
            )
            continue
        ck.choice(item, "type", here, DOC_TYPES, required=True)
        ck.string(item, "name", here, required=True)
        ck.string(item, "id", here, required=True)
        ck.choice(item, "usage_mode", here, USAGE_MODES)


def _check_rag(ck: Checker, rag: Json, loc: Loc) -> None:
    ck.boolean(rag, "enabled", loc)
    ck.choice(rag, "embedding_model", loc, EMBEDDING_MODELS)
    ck.number(rag, "max_vector_distance", loc, gt=0, lt=1)
    ck.number(rag, "max_documents_length", loc, integer=True, gt=0, lt=10_000_000)
    ck.number(rag, "max_retrieved_rag_chunks_count", loc, integer=True, ge=1, le=20)
    ck.number(rag, "num_candidates", loc, integer=True, ge=1)


def check_agent_body(ck: Checker, body: Json, *, creating: bool) -> None:
    """Record every schema problem of an agent create/PATCH body in `ck`."""
    loc: Loc = ("body",)
    cc = ck.obj(body, "conversation_config", loc, required=creating)
    ck.obj(body, "platform_settings", loc)
    workflow = ck.obj(body, "workflow", loc)
    ck.string(body, "name", loc)
    ck.strings(body, "tags", loc)
    ck.string(body, "version_description", loc)
    if cc is not None:
        cloc = (*loc, "conversation_config")
        agent = ck.obj(cc, "agent", cloc)
        if agent is not None:
            aloc = (*cloc, "agent")
            prompt = ck.obj(agent, "prompt", aloc)
            if prompt is not None:
                ploc = (*aloc, "prompt")
                kb = ck.array(prompt, "knowledge_base", ploc)
                if kb is not None:
                    _check_locators(ck, kb, (*ploc, "knowledge_base"))
                rag = ck.obj(prompt, "rag", ploc)
                if rag is not None:
                    _check_rag(ck, rag, (*ploc, "rag"))
    if workflow is not None:
        nodes = workflow.get("nodes")
        if isinstance(nodes, dict):
            for name, node in nodes.items():
                extra = node.get("additional_knowledge_base") if isinstance(node, dict) else None
                if isinstance(extra, list):
                    nloc: Loc = (*loc, "workflow", "nodes", name, "additional_knowledge_base")
                    _check_locators(ck, extra, nloc)
