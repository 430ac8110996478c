"""RAG index operations: get-or-create per (document, embedding model), per-document listing,
the workspace overview, the batch endpoint, deleting an index, and the chunks of an indexed
document.

Owns those endpoints' semantics on `WorldBase` state (status itself is computed there, from the
clock). Must not parse requests; each method takes the lock.
"""

from __future__ import annotations

from kbctl.emulator.workspace import shapes as wire
from kbctl.emulator.workspace.errors import ApiProblem, not_found
from kbctl.emulator.workspace.index_attempts import IndexAttempts
from kbctl.emulator.workspace.paging import decode_offset, offset_cursor
from kbctl.emulator.workspace.records import EMBEDDING_MODELS, Json, RagIndex


class IndexOps(IndexAttempts):
    """RAG endpoints (mixed into `World`)."""

    def _index_json(self, ix: RagIndex) -> Json:
        status, progress, used = self._index_state(ix)
        return wire.rag_index(ix, status, progress, used)

    def compute_index(self, doc_id: str, model: str) -> Json:
        """`POST …/{id}/rag-index`: get-or-create (an existing index is returned as it is)."""
        with self._lock:
            ix = self._request_index(self._doc(doc_id), model)
            assert ix is not None
            return self._index_json(ix)

    def document_indexes(self, doc_id: str) -> Json:
        """`GET …/{id}/rag-index`: `{indexes: []}` until one is requested."""
        with self._lock:
            self._doc(doc_id)
            by_model = self._doc_indexes.get(doc_id, {})
            return {
                "indexes": [self._index_json(self._indexes[by_model[m]]) for m in sorted(by_model)]
            }

    def overview(self) -> Json:
        """`GET /v1/convai/knowledge-base/rag-index`: bytes of succeeded indexes, per model."""
        with self._lock:
            per_model: dict[str, int] = {}
            for ix in self._indexes.values():
                status, _, used = self._index_state(ix)
                if status == "succeeded":
                    per_model[ix.model] = per_model.get(ix.model, 0) + used
            return {
                "total_used_bytes": sum(per_model.values()),
                "total_max_bytes": self.config.rag_quota_bytes,
                "models": [
                    {"model": m, "used_bytes": per_model[m]}
                    for m in EMBEDDING_MODELS
                    if m in per_model
                ],
            }

    def batch_indexes(self, items: list[tuple[str, bool, str]]) -> Json:
        """`POST /v1/convai/knowledge-base/rag-index` for (document_id, create_if_missing,
        model) items; the answer is keyed by document id (a repeated id: the last item wins)."""
        with self._lock:
            out: Json = {}
            for doc_id, create, model in items:
                doc = self._docs.get(doc_id)
                if doc is None:
                    out[doc_id] = wire.failure(
                        404, "document_not_found", f"Document {doc_id!r} was not found."
                    )
                    continue
                ix = self._request_index(doc, model, create=create)
                if ix is None:
                    out[doc_id] = wire.failure(
                        404, "rag_index_not_found", f"Document {doc_id!r} has no index for {model}."
                    )
                else:
                    out[doc_id] = wire.success(self._index_json(ix))
            return out

    def delete_index(self, doc_id: str, index_id: str) -> Json:
        """`DELETE …/{id}/rag-index/{index_id}`: answers the deleted index."""
        with self._lock:
            self._doc(doc_id)
            ix = self._indexes.get(index_id)
            if ix is None or ix.document_id != doc_id:
                raise not_found("rag_index", index_id)
            body = self._index_json(ix)
            self._delete_index(ix)
            return body

    def _succeeded(self, doc_id: str, model: str) -> RagIndex:
        doc = self._doc(doc_id)
        index_id = self._doc_indexes.get(doc.id, {}).get(model)
        ix = self._indexes.get(index_id) if index_id is not None else None
        if ix is None or self._index_state(ix)[0] != "succeeded":
            raise ApiProblem(
                404, "rag_index_not_found", f"Document {doc_id!r} is not indexed with {model}."
            )
        return ix

    def chunks(
        self, doc_id: str, model: str, page_size: int = 30, cursor: str | None = None
    ) -> Json:
        """`GET …/{id}/chunks`: the indexed document in chunks (indexed documents only)."""
        with self._lock:
            ix = self._succeeded(doc_id, model)
            doc = self._docs[doc_id]
            parts = self._index_chunks(ix)
            start = decode_offset(cursor)
            chosen = parts[start : start + page_size]
            items = [
                {"id": f"{ix.id}_{start + i}", "name": doc.name, "content": c}
                for i, c in enumerate(chosen)
            ]
            more = start + page_size < len(parts)
            return {
                "chunks": items,
                "next_cursor": offset_cursor(start + page_size) if more else None,
            }

    def chunk(self, doc_id: str, chunk_id: str, model: str | None) -> Json:
        """`GET …/{id}/chunk/{chunk_id}`."""
        with self._lock:
            self._doc(doc_id)
            models = [model] if model else sorted(self._doc_indexes.get(doc_id, {}))
            for candidate in models:
                try:
                    ix = self._succeeded(doc_id, candidate)
                except ApiProblem:
                    continue
                prefix, _, number = chunk_id.rpartition("_")
                parts = self._index_chunks(ix)
                if prefix == ix.id and number.isdigit() and int(number) < len(parts):
                    return {
                        "id": chunk_id,
                        "name": self._docs[doc_id].name,
                        "content": parts[int(number)],
                    }
            raise not_found("chunk", chunk_id)
