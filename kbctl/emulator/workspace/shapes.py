"""Records → the JSON shapes of the reference (SDK 2.78.0 models) for documents: detail and
summary unions, create answers, RAG indexes, and per-item batch results (agents, branches and
deployments are in `agent_shapes`).

Owns formatting only. Must not read state, the clock or the request: every derived value
(folder path, counts, dependents, index status) is passed in by the caller.
"""

from __future__ import annotations

from kbctl.emulator.workspace.records import Document, Json, RagIndex

ACCESS_INFO: Json = {
    "is_creator": True,
    "creator_name": "kbctl emulator",
    "creator_email": "emulator@kbctl.invalid",
    "role": "admin",
}


def access_info() -> Json:
    """A fresh copy of the caller's access to everything (the emulator has one user)."""
    return dict(ACCESS_INFO)


def _metadata(doc: Document) -> Json:
    return {
        "created_at_unix_secs": doc.created_at,
        "last_updated_at_unix_secs": doc.updated_at,
        "size_bytes": doc.size_bytes,
    }


def _supported_usages(doc: Document) -> list[str]:
    return ["auto"] if doc.doc_type == "folder" else ["prompt", "auto"]


def _auto_sync(doc: Document) -> Json | None:
    if not doc.enable_auto_sync:
        return None
    return {
        "minimum_frequency_days": doc.minimum_frequency_days or 7,
        "auto_remove": doc.auto_remove,
        "consec_failures": 0,
        "next_refresh_by": None
        if doc.doc_type == "folder"
        else doc.updated_at + 86400 * (doc.minimum_frequency_days or 7),
    }


def _common(doc: Document) -> Json:
    return {
        "id": doc.id,
        "name": doc.name,
        "metadata": _metadata(doc),
        "supported_usages": _supported_usages(doc),
        "access_info": access_info(),
        "folder_parent_id": doc.parent_id,
        "type": doc.doc_type,
    }


def document_detail(
    doc: Document, folder_path: list[tuple[str, str]], counts: tuple[int, int] = (0, 0)
) -> Json:
    """`GET /v1/convai/knowledge-base/{id}` (detail union). `folder_path`: (id, name) root first;
    `counts`: (children_count, document_count) for folders."""
    out = _common(doc)
    out["folder_path"] = [{"id": fid, "name": fname} for fid, fname in folder_path]
    if doc.doc_type == "folder":
        out["children_count"], out["document_count"] = counts
        out["auto_sync_info"] = _auto_sync(doc)
        return out
    out["extracted_inner_html"] = doc.text
    out["content_format"] = "markdown"
    if doc.doc_type == "url":
        out["url"] = doc.url or ""
        out["auto_sync_info"] = _auto_sync(doc)
    elif doc.doc_type == "file":
        out["filename"] = doc.filename or ""
        out["is_frozen"] = False
    return out


def document_summary(
    doc: Document,
    folder_path_ids: list[str],
    dependents: list[Json],
    counts: tuple[int, int] = (0, 0),
) -> Json:
    """List/summaries/search item (summary union): no content, deprecated `dependent_agents`."""
    out = _common(doc)
    out["folder_path"] = [{"id": fid} for fid in folder_path_ids]
    out["dependent_agents"] = dependents
    if doc.doc_type == "folder":
        out["children_count"], out["document_count"] = counts
        out["auto_sync_info"] = _auto_sync(doc)
    elif doc.doc_type == "url":
        out["url"] = doc.url or ""
        out["auto_sync_info"] = _auto_sync(doc)
    elif doc.doc_type == "file":
        out["is_frozen"] = False
    return out


def added(doc: Document, folder_path_ids: list[str]) -> Json:
    """`AddKnowledgeBaseResponseModel` of the create endpoints."""
    return {"id": doc.id, "name": doc.name, "folder_path": [{"id": f} for f in folder_path_ids]}


def rag_index(ix: RagIndex, status: str, progress: float, used_bytes: int) -> Json:
    """`RagDocumentIndexResponseModel`."""
    return {
        "id": ix.id,
        "model": ix.model,
        "status": status,
        "progress_percentage": progress,
        "document_model_index_usage": {"used_bytes": used_bytes},
    }


def failure(code: int, status: str, message: str) -> Json:
    """A per-item failure of a batch endpoint."""
    return {
        "status": "failure",
        "error_code": code,
        "error_status": status,
        "error_message": message,
    }


def success(data: Json) -> Json:
    """A per-item success of a batch endpoint."""
    return {"status": "success", "data": data}
