"""RAG indexes over the wire: one document's index, many documents' at once, the quota.

Owns the per-document `…/{id}/rag-index` endpoints, the batch `POST …/knowledge-base/rag-index`
(≤ 100 items per request; `create_if_missing` false to read, true to request) and the workspace
overview. The batch answer's shape is UNCONFIRMED, so both readings are accepted: a map keyed by
document id (or by item position), or a list in item order; an item may be wrapped
(`{status: success, data}` / `{status: failure, …}`) or bare. Where the batch endpoint is absent
(404/405/501) kbctl falls back to one request per document, and remembers it. A document the
answer leaves out is read on its own. It must not decide which documents need an index.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from kbctl.errors import ApiError, NotFoundError
from kbctl.jsonread import JsonObj
from kbctl.model import IndexStatus, RagQuota
from kbctl.provider.base import IndexState
from kbctl.provider.elevenlabs.shapes import KB, doc_not_found, index, seg
from kbctl.provider.http import ApiClient
from kbctl.provider.wire import ShapeError, answer, reading

BATCH_MAX: Final = 100
BATCH_PATH: Final = f"{KB}/rag-index"
_BATCH_ROUTE: Final = "POST /v1/convai/knowledge-base/rag-index"
_ABSENT: Final = frozenset({404, 405, 501})  # the batch endpoint does not exist here


@dataclass(frozen=True, slots=True)
class _Refusal:
    """A batch item the API answered with `{status: failure, …}`."""

    code: int | None
    status: str
    message: str


class Indexes:
    """The index endpoints, through one `ApiClient`."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self._batch_absent = False
        self._lock = threading.Lock()

    def state(self, doc_id: str, model: str) -> IndexState:
        """The document's index for `model`, or NOT_INDEXED (one GET)."""
        path = f"{KB}/{seg(doc_id)}/rag-index"
        try:
            data = self._client.get_json(path, route="GET /v1/convai/knowledge-base/{id}/rag-index")
        except NotFoundError as exc:
            raise doc_not_found(exc, doc_id) from None
        with reading("GET", path):
            for entry in answer(data).opt_objs("indexes"):
                if entry.opt_text("model") == model:
                    return index(entry)
        return IndexState(IndexStatus.NOT_INDEXED)

    def request(self, doc_id: str, model: str) -> IndexState:
        """Start (or get) the index for `model`: the endpoint is get-or-create, so retried."""
        path = f"{KB}/{seg(doc_id)}/rag-index"
        try:
            data = self._client.send_json(
                "POST",
                path,
                {"model": model},
                idempotent=True,
                route="POST /v1/convai/knowledge-base/{id}/rag-index",
            )
        except NotFoundError as exc:
            raise doc_not_found(exc, doc_id) from None
        with reading("POST", path):
            return index(answer(data))

    def delete(self, doc_id: str, index_id: str) -> None:
        """DELETE one RAG index of a document; one that is gone already is fine."""
        path = f"{KB}/{seg(doc_id)}/rag-index/{seg(index_id)}"
        try:
            self._client.send_json(
                "DELETE",
                path,
                route="DELETE /v1/convai/knowledge-base/{id}/rag-index/{rag_index_id}",
            )
        except NotFoundError:
            return

    def states(self, doc_ids: Iterable[str], model: str) -> dict[str, IndexState]:
        """Every document's index for `model` (NOT_INDEXED where there is none), ⌈N/100⌉ batch
        requests; nothing is created."""
        return self._many(list(dict.fromkeys(doc_ids)), model, create=False)

    def request_many(self, doc_ids: Iterable[str], model: str) -> dict[str, IndexState]:
        """Start (or get) every document's index for `model`, ⌈N/100⌉ batch requests."""
        return self._many(list(dict.fromkeys(doc_ids)), model, create=True)

    def quota(self) -> RagQuota:
        """The workspace RAG usage overview; a limit the API does not give is None (unknown)."""
        path = f"{KB}/rag-index"
        data = self._client.get_json(path, route="GET /v1/convai/knowledge-base/rag-index")
        with reading("GET", path):
            root = answer(data)
            return RagQuota(
                used_bytes=root.opt_integer("total_used_bytes") or 0,
                max_bytes=root.opt_integer("total_max_bytes"),
            )

    # ---------------------------------------------------------------------------------------

    def _many(self, ids: list[str], model: str, *, create: bool) -> dict[str, IndexState]:
        """The first batch alone (it tells whether the batch endpoint exists here), then the
        other batches in parallel: ⌈N/100⌉ requests in about ⌈N/100⌉/C round trips."""
        chunks = [ids[start : start + BATCH_MAX] for start in range(0, len(ids), BATCH_MAX)]
        if not chunks:
            return {}
        out = self._chunk(chunks[0], model, create)
        if len(chunks) > 1:
            workers = max(1, min(len(chunks) - 1, self._client.concurrency_limit))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kbctl-index") as pool:
                for answered in pool.map(lambda c: self._chunk(c, model, create), chunks[1:]):
                    out.update(answered)
        return out

    def _chunk(self, chunk: list[str], model: str, create: bool) -> dict[str, IndexState]:
        """One batch of ≤ 100, and one by one whatever it leaves out (or all of it where the
        batch endpoint is absent)."""
        one = self.request if create else self.state
        answered = None if self._batch_absent else self._batch(chunk, model, create)
        if answered is None:
            return self._one_by_one(chunk, model, one)
        missing = [d for d in chunk if d not in answered]
        return {**answered, **self._one_by_one(missing, model, one)}

    def _batch(self, ids: list[str], model: str, create: bool) -> dict[str, IndexState] | None:
        """One batch request; None when the endpoint does not exist here."""
        items = [{"document_id": d, "create_if_missing": create, "model": model} for d in ids]
        try:
            data = self._client.send_json(
                "POST", BATCH_PATH, {"items": items}, idempotent=True, route=_BATCH_ROUTE
            )
        except ApiError as exc:
            if exc.status in _ABSENT:
                with self._lock:
                    self._batch_absent = True
                return None
            raise
        out: dict[str, IndexState] = {}
        with reading("POST", BATCH_PATH):
            for doc_id, value in _pairs(data, ids):
                item = _item(value)
                if isinstance(item, IndexState):
                    out[doc_id] = item
                else:
                    out[doc_id] = self._refused(doc_id, item)
        return out

    def _refused(self, doc_id: str, refusal: _Refusal) -> IndexState:
        said = f"{refusal.status} {refusal.message}".lower()
        if "index" in refusal.status.lower() and (refusal.code == 404 or "not_found" in said):
            return IndexState(IndexStatus.NOT_INDEXED)  # no index for the model (a read)
        detail = f"POST {BATCH_PATH}: {doc_id}: {refusal.status}: {refusal.message}"
        if refusal.code == 404 or "document_not_found" in said:
            raise NotFoundError(
                f"Document {doc_id} not found in this workspace",
                method="POST",
                path=BATCH_PATH,
                status=404,
                code=refusal.status,
                detail=detail,
                hint="It may have been deleted meanwhile; re-run `kbctl plan`.",
            )
        raise ApiError(
            f"The API refused the index of document {doc_id}: {refusal.message or refusal.status}",
            method="POST",
            path=BATCH_PATH,
            status=refusal.code,
            code=refusal.status,
            detail=detail,
        )

    def _one_by_one(
        self, ids: Sequence[str], model: str, one: Callable[[str, str], IndexState]
    ) -> dict[str, IndexState]:
        if not ids:
            return {}
        workers = max(1, min(len(ids), self._client.concurrency_limit))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            states = list(pool.map(lambda d: one(d, model), ids))
        return dict(zip(ids, states, strict=True))


def _pairs(data: object, ids: list[str]) -> list[tuple[str, JsonObj]]:
    """(document id, item) from either answer shape."""
    if isinstance(data, list):
        if len(data) != len(ids):
            raise ShapeError(f"answer: {len(data)} items for {len(ids)} documents")
        return [(d, answer(data[i], f"answer[{i}]")) for i, d in enumerate(ids)]
    root = answer(data)
    if any(d in root.raw for d in ids):
        return [(d, root.obj(d)) for d in ids if d in root.raw]
    positions = {str(i): d for i, d in enumerate(ids)}
    if root.raw and all(k in positions for k in root.raw):
        return [(positions[k], root.obj(k)) for k in root.raw]
    if not root.raw:
        return []
    keys = sorted(root.raw)[:3]
    raise ShapeError(f"answer: keys {keys} are neither document ids nor positions")


def _item(entry: JsonObj) -> IndexState | _Refusal:
    data = entry.opt_obj("data")
    if data is not None:
        return index(data)
    if entry.opt_text("status") == "failure":
        return _Refusal(
            code=entry.opt_integer("error_code"),
            status=entry.opt_text("error_status") or "failure",
            message=entry.opt_text("error_message") or "",
        )
    if entry.has("model"):  # a bare RagDocumentIndexResponseModel
        return index(entry)
    raise ShapeError(f"{entry.path}: neither an index nor a success/failure result")
