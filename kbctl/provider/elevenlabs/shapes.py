"""ElevenLabs wire JSON → model types, and the small helpers every endpoint module shares.

Owns the reading of agents, knowledge-base locators, RAG settings, listing entries and index
answers. Reads tolerate absent vs `null` fields and unknown enum values (a listing entry of an
unknown type is skipped; an unknown index status reads as `IndexStatus.UNKNOWN`), except where a
gap would change what kbctl writes: the agent's `conversation_config.agent.prompt.knowledge_base`
and `rag` must be there, and every locator must be one kbctl can write back, or the answer is a
`ProtocolError` (writing the array back without an entry would silently detach it). It must not
send requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from kbctl.errors import NotFoundError
from kbctl.jsonread import JsonObj
from kbctl.model import DocType, IndexStatus, KbEntry, LiveAgent, RagSettings, UsageMode
from kbctl.provider.base import IndexState
from kbctl.provider.wire import ShapeError, answer

KB: Final = "/v1/convai/knowledge-base"
AGENTS: Final = "/v1/convai/agents"
MAX_PAGE_SIZE: Final = 100


@dataclass(frozen=True, slots=True)
class Listed:
    """One entry of the document listing."""

    id: str
    name: str
    doc_type: DocType
    size_bytes: int
    created_at: int | None = None
    updated_at: int | None = None


def seg(ident: str) -> str:
    """An id as one URL path segment."""
    return quote(ident, safe="")


def renamed(exc: NotFoundError, summary: str, hint: str | None) -> NotFoundError:
    """`exc` with a summary and hint that name what was not found."""
    return NotFoundError(
        summary,
        method=exc.method,
        path=exc.path,
        status=exc.status,
        code=exc.code,
        detail=exc.detail,
        hint=hint,
    )


def doc_not_found(exc: NotFoundError, doc_id: str) -> NotFoundError:
    """A 404 about a document, said as such."""
    return renamed(
        exc,
        f"Document {doc_id} not found in this workspace",
        "It may have been deleted meanwhile; re-run `kbctl plan`.",
    )


def agent(data: object, agent_id: str) -> LiveAgent:
    """An agent answer (GET or PATCH) as a `LiveAgent`; the KB array and RAG object required."""
    root = answer(data, "agent")
    prompt = root.obj("conversation_config").obj("agent").obj("prompt")
    if prompt.value("knowledge_base") is None:
        raise ShapeError(
            f"{prompt.at('knowledge_base')}: missing (kbctl cannot tell what is attached)"
        )
    return LiveAgent(
        id=root.opt_text("agent_id") or agent_id,
        name=root.opt_text("name") or "",
        version_id=root.opt_text("version_id"),
        branch_id=root.opt_text("branch_id"),
        knowledge_base=tuple(locator(item) for item in prompt.objs("knowledge_base")),
        rag=rag_settings(prompt.obj("rag")),
    )


#: The enums by value: a dict lookup per entry instead of an enum call (10,000 per agent read).
_DOC_TYPES: Final = {t.value: t for t in DocType}
_USAGE_MODES: Final = {m.value: m for m in UsageMode}


def locator(entry: JsonObj) -> KbEntry:
    """One `knowledge_base` entry; one kbctl could not write back is a `ShapeError`."""
    raw_type = entry.text("type")
    raw_mode = entry.opt_text("usage_mode") or UsageMode.AUTO.value  # the API's default
    doc_type, mode = _DOC_TYPES.get(raw_type), _USAGE_MODES.get(raw_mode)
    if doc_type is None or mode is None:
        # Writing the array back without this entry would detach it: refuse instead.
        raise ShapeError(
            f"{entry.path}: type {raw_type!r} / usage_mode {raw_mode!r} is newer than this "
            "kbctl; upgrade kbctl before it changes this agent"
        )
    return KbEntry(id=entry.text("id"), name=entry.text("name"), doc_type=doc_type, usage_mode=mode)


def rag_settings(rag: JsonObj) -> RagSettings:
    """The RAG fields kbctl manages (absent ones read as None)."""
    return RagSettings(
        enabled=rag.opt_flag("enabled"),
        embedding_model=rag.opt_text("embedding_model"),
        max_vector_distance=rag.opt_number("max_vector_distance"),
        max_documents_length=rag.opt_integer("max_documents_length"),
        max_retrieved_rag_chunks_count=rag.opt_integer("max_retrieved_rag_chunks_count"),
        num_candidates=rag.opt_integer("num_candidates"),
    )


def listed(doc: JsonObj) -> Listed | None:
    """A listing entry, or None for a document type newer than kbctl (not kbctl's to plan)."""
    try:
        doc_type = DocType(doc.opt_text("type") or "")
    except ValueError:
        return None
    meta = doc.obj_or_empty("metadata")
    return Listed(
        id=doc.text("id"),
        name=doc.opt_text("name") or "",
        doc_type=doc_type,
        size_bytes=meta.opt_integer("size_bytes") or 0,
        created_at=meta.opt_integer("created_at_unix_secs"),
        updated_at=meta.opt_integer("last_updated_at_unix_secs"),
    )


def index(entry: JsonObj) -> IndexState:
    """A `RagDocumentIndexResponseModel`."""
    usage = entry.obj_or_empty("document_model_index_usage")
    raw = entry.opt_text("status") or ""
    return IndexState(
        status=IndexStatus.parse(raw),
        progress=entry.opt_number("progress_percentage") or 0.0,
        used_bytes=usage.opt_integer("used_bytes") or 0,
        reported=raw,  # an unknown status keeps its name for messages
        index_id=entry.opt_text("id"),
    )


def search_snippet(result: JsonObj) -> str:
    """A search result's `search_snippet` parts (`[{value, is_hit}]`) as one text ("" if none)."""
    raw = result.raw.get("search_snippet")
    parts = [p["value"] for p in raw if isinstance(p, dict)] if isinstance(raw, list) else []
    return "".join(p for p in parts if isinstance(p, str))
