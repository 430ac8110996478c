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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from kbctl.errors import NotFoundError, ProtocolError
from kbctl.model import DocType, IndexStatus, KbEntry, LiveAgent, RagSettings, UsageMode
from kbctl.provider import wire
from kbctl.provider.base import IndexState
from kbctl.provider.wire import JsonObject, ShapeError

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


@contextmanager
def reading(method: str, path: str) -> Iterator[None]:
    """Turn a `ShapeError` raised while reading an answer into a `ProtocolError`."""
    try:
        yield
    except ShapeError as exc:
        raise ProtocolError(
            "The API sent an answer kbctl cannot read",
            method=method,
            path=path,
            detail=f"{method} {path}: {exc}",
            hint="The API may have changed; check for a newer kbctl, or re-run with --debug. "
            "Nothing was written.",
        ) from None


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
    root = wire.obj(data, "agent")
    config = _required_obj(root, "conversation_config", "agent")
    agent_cfg = _required_obj(config, "agent", "conversation_config")
    prompt = _required_obj(agent_cfg, "prompt", "conversation_config.agent")
    where = "conversation_config.agent.prompt"
    if prompt.get("knowledge_base") is None:
        raise ShapeError(f"{where}.knowledge_base: missing (kbctl cannot tell what is attached)")
    entries = tuple(
        locator(item, f"{where}.knowledge_base[{i}]")
        for i, item in enumerate(wire.field_list(prompt, "knowledge_base", where))
    )
    rag = _required_obj(prompt, "rag", where)
    return LiveAgent(
        id=wire.opt_str(root, "agent_id", "agent") or agent_id,
        name=wire.opt_str(root, "name", "agent") or "",
        version_id=wire.opt_str(root, "version_id", "agent"),
        branch_id=wire.opt_str(root, "branch_id", "agent"),
        knowledge_base=entries,
        rag=rag_settings(rag, f"{where}.rag"),
    )


def _required_obj(data: JsonObject, key: str, where: str) -> JsonObject:
    found = wire.field_obj(data, key, where)
    if found is None:
        raise ShapeError(f"{where}.{key}: missing")
    return found


def locator(item: object, where: str) -> KbEntry:
    """One `knowledge_base` entry; one kbctl could not write back is a `ShapeError`."""
    entry = wire.obj(item, where)
    raw_type = wire.req_str(entry, "type", where)
    raw_mode = wire.opt_str(entry, "usage_mode", where) or UsageMode.AUTO.value  # API default
    try:
        doc_type, mode = DocType(raw_type), UsageMode(raw_mode)
    except ValueError:
        # Writing the array back without this entry would detach it: refuse instead.
        raise ShapeError(
            f"{where}: type {raw_type!r} / usage_mode {raw_mode!r} is newer than this kbctl; "
            "upgrade kbctl before it changes this agent"
        ) from None
    return KbEntry(
        id=wire.req_str(entry, "id", where),
        name=wire.req_str(entry, "name", where),
        doc_type=doc_type,
        usage_mode=mode,
    )


def rag_settings(rag: JsonObject, where: str) -> RagSettings:
    """The RAG fields kbctl manages (absent ones read as None)."""
    return RagSettings(
        enabled=wire.opt_bool(rag, "enabled", where),
        embedding_model=wire.opt_str(rag, "embedding_model", where),
        max_vector_distance=wire.opt_float(rag, "max_vector_distance", where),
        max_documents_length=wire.opt_int(rag, "max_documents_length", where),
        max_retrieved_rag_chunks_count=wire.opt_int(rag, "max_retrieved_rag_chunks_count", where),
        num_candidates=wire.opt_int(rag, "num_candidates", where),
    )


def listed(item: object, where: str) -> Listed | None:
    """A listing entry, or None for a document type newer than kbctl (not kbctl's to plan)."""
    doc = wire.obj(item, where)
    try:
        doc_type = DocType(wire.opt_str(doc, "type", where) or "")
    except ValueError:
        return None
    meta = wire.field_obj(doc, "metadata", where) or {}
    at = f"{where}.metadata"
    return Listed(
        id=wire.req_str(doc, "id", where),
        name=wire.opt_str(doc, "name", where) or "",
        doc_type=doc_type,
        size_bytes=wire.opt_int(meta, "size_bytes", at) or 0,
        created_at=wire.opt_int(meta, "created_at_unix_secs", at),
        updated_at=wire.opt_int(meta, "last_updated_at_unix_secs", at),
    )


def index(entry: JsonObject, where: str) -> IndexState:
    """A `RagDocumentIndexResponseModel`."""
    usage = wire.field_obj(entry, "document_model_index_usage", where) or {}
    raw = wire.opt_str(entry, "status", where) or ""
    return IndexState(
        status=IndexStatus.parse(raw),
        progress=wire.opt_float(entry, "progress_percentage", where) or 0.0,
        used_bytes=wire.opt_int(usage, "used_bytes", f"{where}.document_model_index_usage") or 0,
        reported=raw,  # an unknown status keeps its name for messages
        index_id=wire.opt_str(entry, "id", where),
    )


def search_snippet(result: JsonObject) -> str:
    """A search result's `search_snippet` parts (`[{value, is_hit}]`) as one text ("" if none)."""
    raw = result.get("search_snippet")
    parts = [p["value"] for p in raw if isinstance(p, dict)] if isinstance(raw, list) else []
    return "".join(p for p in parts if isinstance(p, str))
