"""Reading many RAG indexes at once: the batch endpoint, and its wire shape.

Owns `POST /v1/convai/knowledge-base/rag-index` used read-only (`create_if_missing: false`,
at most 100 items per request) and the index model's wire → `IndexState` conversion. Where the
batch cannot answer (an older API without the endpoint, an item that failed for another reason
than "no index", an answer without the document's key) it falls back to the per-document GET it
is given. Never starts an index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kbctl.errors import ApiError, NotFoundError, ProtocolError
from kbctl.model import IndexStatus
from kbctl.provider import wire
from kbctl.provider.base import IndexState
from kbctl.provider.http import ApiClient
from kbctl.provider.wire import JsonObject, ShapeError

BATCH_PATH = "/v1/convai/knowledge-base/rag-index"
BATCH_SIZE = 100
#: Batch failures that mean "this document has no index for the model".
_NO_INDEX = ("rag_index_not_found", "index_not_found", "not_indexed")
#: Answers that mean the batch endpoint itself is missing (older API, some residency hosts).
_NO_ENDPOINT = frozenset({404, 405})


def index_from_wire(entry: JsonObject, where: str) -> IndexState:
    """A `RagDocumentIndexResponseModel` as an `IndexState` (unknown statuses kept by name)."""
    usage = wire.field_obj(entry, "document_model_index_usage", where) or {}
    raw = wire.opt_str(entry, "status", where) or ""
    return IndexState(
        status=IndexStatus.parse(raw),
        progress=wire.opt_float(entry, "progress_percentage", where) or 0.0,
        used_bytes=wire.opt_int(usage, "used_bytes", f"{where}.document_model_index_usage") or 0,
        reported=raw,
        index_id=wire.opt_str(entry, "id", where),
    )


def read_index_states(
    client: ApiClient,
    doc_ids: Sequence[str],
    model: str,
    one: Callable[[str, str], IndexState],
) -> dict[str, IndexState]:
    """Each document's index for `model` (NOT_INDEXED when none), ⌈N/100⌉ batch requests."""
    unique = list(dict.fromkeys(doc_ids))
    out: dict[str, IndexState] = {}
    fallback: list[str] = []
    for start in range(0, len(unique), BATCH_SIZE):
        chunk = unique[start : start + BATCH_SIZE]
        answers = _batch(client, chunk, model)
        if answers is None:  # no batch endpoint here: every document on its own
            fallback += unique[start:]
            break
        for doc_id in chunk:
            state = answers.get(doc_id)
            if state is None:
                fallback.append(doc_id)
            else:
                out[doc_id] = state
    for doc_id in fallback:
        out[doc_id] = one(doc_id, model)
    return out


def _batch(client: ApiClient, doc_ids: list[str], model: str) -> dict[str, IndexState] | None:
    """One batch read; None when the endpoint does not exist. Items it could not read are left
    out (the caller reads them one by one)."""
    body = {
        "items": [
            {"document_id": doc_id, "create_if_missing": False, "model": model}
            for doc_id in doc_ids
        ]
    }
    try:
        data = client.send_json(
            "POST", BATCH_PATH, body, idempotent=True, route=f"POST {BATCH_PATH}"
        )
    except NotFoundError as exc:
        if exc.code in (None, "", "not_found"):
            return None
        raise
    except ApiError as exc:
        if exc.status in _NO_ENDPOINT:
            return None
        raise
    out: dict[str, IndexState] = {}
    try:
        root = wire.obj(data, "answer")
        for doc_id in doc_ids:
            item = wire.field_obj(root, doc_id, "answer")
            if item is None:
                continue
            where = f"answer[{doc_id!r}]"
            status = wire.opt_str(item, "status", where)
            if status == "success":
                entry = wire.field_obj(item, "data", where)
                if entry is not None and wire.opt_str(entry, "model", f"{where}.data") in (
                    None,
                    model,
                ):
                    out[doc_id] = index_from_wire(entry, f"{where}.data")
            elif status == "failure":
                code = (wire.opt_str(item, "error_status", where) or "").lower()
                if code in _NO_INDEX or wire.opt_int(item, "error_code", where) == 404:
                    out[doc_id] = IndexState(IndexStatus.NOT_INDEXED)
    except ShapeError as exc:
        raise ProtocolError(
            "The API sent an answer kbctl cannot read",
            method="POST",
            path=BATCH_PATH,
            detail=f"POST {BATCH_PATH}: {exc}",
            hint="The API may have changed; check for a newer kbctl, or re-run with --debug.",
        ) from None
    return out
