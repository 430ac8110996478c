"""The JSON objects of the OpenAI API exactly as the SDK's models declare them (every required
field present, so `_strict_response_validation=True` accepts them): File, VectorStore,
VectorStoreFile, VectorStoreFileBatch, deletion answers and search results.

Owns shapes. Must not compute statuses or counts (the world passes them in) nor touch state.
"""

from __future__ import annotations

from kbctl.emulator.openai.records import Attachment, Batch, Json, StoredFile, VectorStore

Counts = dict[str, int]
SECONDS_PER_DAY = 86_400


def empty_counts() -> Counts:
    """`file_counts` with every status at zero."""
    return {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0}


def file_json(f: StoredFile) -> Json:
    """A File object (`status` is always `processed`: the emulator parses at upload)."""
    return {
        "id": f.id,
        "object": "file",
        "bytes": len(f.data),
        "created_at": f.created_at,
        "filename": f.filename,
        "purpose": f.purpose,
        "status": "processed",
        "expires_at": f.expires_at,
        "status_details": None,
    }


def store_expires_at(vs: VectorStore) -> int | None:
    """When the store expires (`last_active_at` + days), or None."""
    if vs.expires_after_days is None:
        return None
    return vs.last_active_at + vs.expires_after_days * SECONDS_PER_DAY


def store_json(vs: VectorStore, status: str, counts: Counts, usage_bytes: int) -> Json:
    """A VectorStore object."""
    days = vs.expires_after_days
    return {
        "id": vs.id,
        "object": "vector_store",
        "created_at": vs.created_at,
        "name": vs.name,
        "usage_bytes": usage_bytes,
        "file_counts": counts,
        "status": status,
        "last_active_at": vs.last_active_at,
        "metadata": vs.metadata,
        "expires_after": None if days is None else {"anchor": "last_active_at", "days": days},
        "expires_at": store_expires_at(vs),
    }


def store_file_json(att: Attachment, status: str) -> Json:
    """A VectorStoreFile object: usage and error only once processing has ended."""
    error = None
    if status == "failed" and att.error is not None:
        error = {"code": att.error[0], "message": att.error[1]}
    return {
        "id": att.file_id,
        "object": "vector_store.file",
        "created_at": att.created_at,
        "usage_bytes": att.usage_bytes if status == "completed" else 0,
        "vector_store_id": att.store_id,
        "status": status,
        "last_error": error,
        "chunking_strategy": att.chunking.to_json(),
        "attributes": att.attributes,
    }


def batch_json(b: Batch, status: str, counts: Counts) -> Json:
    """A VectorStoreFileBatch object."""
    return {
        "id": b.id,
        "object": "vector_store.files_batch",
        "created_at": b.created_at,
        "vector_store_id": b.store_id,
        "status": status,
        "file_counts": counts,
    }


def deleted_json(object_id: str, kind: str) -> Json:
    """A deletion answer (`kind`: `file`, `vector_store.deleted`, `vector_store.file.deleted`)."""
    return {"id": object_id, "object": kind, "deleted": True}


def search_json(queries: tuple[str, ...], hits: list[Json]) -> Json:
    """A search results page (never paginated)."""
    return {
        "object": "vector_store.search_results.page",
        "search_query": list(queries),
        "data": hits,
        "has_more": False,
        "next_page": None,
    }


def hit_json(att: Attachment, f: StoredFile, score: float, text: str) -> Json:
    """One search hit: one chunk of one file."""
    return {
        "file_id": f.id,
        "filename": f.filename,
        "score": score,
        "attributes": att.attributes,
        "content": [{"type": "text", "text": text}],
    }


def content_json(texts: list[str]) -> Json:
    """The parsed-content page of a vector-store file."""
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": t} for t in texts],
        "has_more": False,
        "next_page": None,
    }
