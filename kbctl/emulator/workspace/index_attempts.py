"""RAG index attempts, the primitives under the indexing endpoints: the status of an attempt at
a moment (from the injected clock), the outcome decided at request time (too small, over the
quota, failing content), get-or-create per (document, model), dropping and deleting, and the
chunks an index holds (cut from the content when the attempt was made).

Owns those primitives on `WorldBase` state. Must not parse requests or shape answers; callers
hold the lock.
"""

from __future__ import annotations

from kbctl.emulator.workspace.base import WorldBase
from kbctl.emulator.workspace.records import Document, RagIndex
from kbctl.emulator.workspace.search import chunk_text

#: Index outcomes reported at once, without a `created`/`processing` phase.
IMMEDIATE_OUTCOMES = frozenset({"document_too_small", "cannot_index_folder", "rag_limit_exceeded"})


class IndexAttempts(WorldBase):
    """Index primitives shared by the document, indexing and agent operations."""

    def _index_state(self, ix: RagIndex) -> tuple[str, float, int]:
        """(status, progress_percentage, used_bytes) of `ix` now."""
        if ix.outcome in IMMEDIATE_OUTCOMES:
            return ix.outcome, 0.0, 0
        elapsed = self.clock.now() - ix.requested_at
        total = self.config.index_seconds
        if elapsed >= total:
            if ix.outcome == "succeeded":
                return "succeeded", 100.0, ix.size_bytes
            return ix.outcome, 100.0, 0
        if elapsed <= 0:
            return "created", 0.0, 0
        pending = self.config.index_pending_status
        if pending and elapsed < total / 2:
            return pending, 0.0, 0
        return "processing", round(min(99.9, 100.0 * elapsed / total), 1), 0

    def _outcome(self, doc: Document) -> str:
        """The terminal status a new attempt will reach (decided at request time)."""
        if doc.doc_type == "folder":
            return "cannot_index_folder"
        if doc.size_bytes < self.config.min_index_bytes:
            return "document_too_small"
        if self._reserved_bytes + doc.size_bytes > self.config.rag_quota_bytes:
            return "rag_limit_exceeded"
        if any(text in doc.text for text in self.config.fail_index_containing):
            return "failed"
        return "succeeded"

    def _release(self, ix: RagIndex) -> None:
        if ix.outcome == "succeeded":
            self._reserved_bytes -= ix.size_bytes

    def _request_index(self, doc: Document, model: str, *, create: bool = True) -> RagIndex | None:
        """Get-or-create the index of `doc` for `model`. An existing index is returned as it is,
        terminal failures included (so polling with POST terminates); a new attempt needs the
        index deleted first (or new content, which drops the document's indexes)."""
        index_id = self._doc_indexes.get(doc.id, {}).get(model)
        if index_id is not None:
            return self._indexes[index_id]
        if not create:
            return None
        ix = RagIndex(self._new_id(), doc.id, model, self.clock.now(), "succeeded", doc.size_bytes)
        ix.outcome = self._outcome(doc)
        if ix.outcome == "succeeded":
            self._reserved_bytes += ix.size_bytes
            self._chunk_cache[ix.id] = chunk_text(doc.text)
        self._indexes[ix.id] = ix
        self._doc_indexes.setdefault(doc.id, {})[model] = ix.id
        self._mark("indexes", ix.id)
        return ix

    def _drop_indexes(self, doc_id: str) -> None:
        for index_id in self._doc_indexes.pop(doc_id, {}).values():
            ix = self._indexes.pop(index_id, None)
            self._chunk_cache.pop(index_id, None)
            if ix is not None:
                self._release(ix)
            self._mark("indexes", index_id)

    def _delete_index(self, ix: RagIndex) -> None:
        self._release(ix)
        del self._indexes[ix.id]
        self._chunk_cache.pop(ix.id, None)
        models = self._doc_indexes.get(ix.document_id, {})
        models.pop(ix.model, None)
        if not models:
            self._doc_indexes.pop(ix.document_id, None)
        self._mark("indexes", ix.id)

    def _index_chunks(self, ix: RagIndex) -> list[str]:
        """The chunks of a succeeded index: the content as it was when indexing was asked
        (recut from the current content after a restart, which is the same unless an edit kept
        the index)."""
        cached = self._chunk_cache.get(ix.id)
        if cached is None:
            doc = self._docs.get(ix.document_id)
            cached = chunk_text(doc.text) if doc is not None else []
            self._chunk_cache[ix.id] = cached
        return cached
