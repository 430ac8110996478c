"""The OpenAI side's in-memory state and the primitives every operation shares: the one lock,
ids, lookups, processing status on the injected clock, derived counts, the remembered positions
of deleted objects (for cursors) and the change log that persistence drains.

Owns the data and its invariants (file counts and usage are always derived, never stored, so
they cannot drift). Must not know about HTTP or files on disk.
"""

from __future__ import annotations

import threading
from collections import Counter

from kbctl.clock import Clock
from kbctl.emulator.config import EmulatorConfig
from kbctl.emulator.openai import wire
from kbctl.emulator.openai.errors import (
    bad_id,
    bad_request,
    no_such_batch,
    no_such_file,
    no_such_store,
    no_such_store_file,
)
from kbctl.emulator.openai.records import Attachment, Batch, StoredFile, VectorStore, make_id
from kbctl.emulator.openai.text import Chunk, chunk

KINDS = ("files", "stores", "attachments", "batches")


class OpenAIState:
    """State and shared primitives. Every public method of `OpenAIWorld` holds `self._lock`."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.RLock()
        self._files: dict[str, StoredFile] = {}
        self._stores: dict[str, VectorStore] = {}
        self._attached: dict[str, dict[str, Attachment]] = {}  # store id -> file id -> record
        self._batches: dict[str, Batch] = {}
        #: Per list ("files", "stores", "files:<store id>"): deleted id -> creation sequence.
        self._gone: dict[str, dict[str, int]] = {}
        self._chunks: dict[tuple[str, int, int], list[Chunk]] = {}
        self._serial = 0
        self._seq = 0
        self._dirty: dict[str, set[str]] = {kind: set() for kind in KINDS}
        #: Requests per route template, e.g. `"GET /v1/vector_stores/{vector_store_id}"`.
        self.calls: Counter[str] = Counter()

    # ------------------------------------------------------------------ basics
    def _new_id(self, prefix: str) -> str:
        self._serial += 1
        return make_id(prefix, self.config.seed, self._serial)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _now(self) -> int:
        return int(self.clock.now())

    def _mark(self, kind: str, key: str) -> None:
        self._dirty[kind].add(key)

    # ------------------------------------------------------------------ lookups
    def _file(self, file_id: str) -> StoredFile:
        found = self._files.get(file_id)
        if found is None:
            raise no_such_file(file_id)
        return found

    def _store(self, store_id: str, *, usable: bool = False) -> VectorStore:
        """The store; `usable` also refuses an expired one (attach, batch, search)."""
        if not store_id.startswith("vs_"):
            raise bad_id("vector_store_id", store_id, "vs_")
        vs = self._stores.get(store_id)
        if vs is None:
            raise no_such_store(store_id)
        if usable and self._expired(vs):
            raise bad_request(
                f"Vector store '{store_id}' has expired and can no longer be used.",
                "vector_store_id",
                "vector_store_expired",
            )
        return vs

    def _attachment(self, store_id: str, file_id: str) -> Attachment:
        self._store(store_id)
        att = self._attached.get(store_id, {}).get(file_id)
        if att is None:
            raise no_such_store_file(store_id, file_id)
        return att

    def _batch(self, store_id: str, batch_id: str) -> Batch:
        if not batch_id.startswith("vsfb_"):
            raise bad_id("batch_id", batch_id, "vsfb_")
        self._store(store_id)
        b = self._batches.get(batch_id)
        if b is None or b.store_id != store_id:
            raise no_such_batch(store_id, batch_id)
        return b

    # ------------------------------------------------------------------ status and counts
    def _status(self, att: Attachment) -> str:
        """`in_progress` until `index_seconds` after the request, then the decided outcome."""
        if att.cancelled:
            return "cancelled"
        if self.clock.now() - att.requested_at >= self.config.index_seconds:
            return att.outcome
        return "in_progress"

    def _expired(self, vs: VectorStore) -> bool:
        expires_at = wire.store_expires_at(vs)
        return expires_at is not None and self.clock.now() >= expires_at

    def _counts(self, atts: list[Attachment]) -> wire.Counts:
        counts = wire.empty_counts()
        for att in atts:
            counts[self._status(att)] += 1
        counts["total"] = len(atts)
        return counts

    def _store_json(self, vs: VectorStore) -> dict[str, object]:
        atts = list(self._attached.get(vs.id, {}).values())
        counts = self._counts(atts)
        usage = sum(a.usage_bytes for a in atts if self._status(a) == "completed")
        if self._expired(vs):
            status = "expired"
        else:
            status = "in_progress" if counts["in_progress"] else "completed"
        return wire.store_json(vs, status, counts, usage)

    def _batch_members(self, b: Batch) -> list[Attachment]:
        attached = self._attached.get(b.store_id, {})
        return [attached[f] for f in b.file_ids if f in attached]

    def _batch_json(self, b: Batch) -> dict[str, object]:
        members = self._batch_members(b)
        counts = self._counts(members)
        if counts["in_progress"]:
            status = "in_progress"
        elif b.cancelled:
            status = "cancelled"
        elif members and counts["failed"] == len(members):
            status = "failed"
        else:
            status = "completed"
        return wire.batch_json(b, status, counts)

    def _store_file_json(self, att: Attachment) -> dict[str, object]:
        return wire.store_file_json(att, self._status(att))

    # ------------------------------------------------------------------ chunks
    def _chunks_of(self, att: Attachment) -> list[Chunk]:
        f = self._files.get(att.file_id)
        if f is None:
            return []
        key = (f.id, att.chunking.max_tokens, att.chunking.overlap_tokens)
        cached = self._chunks.get(key)
        if cached is None:
            cached = self._chunks[key] = chunk(f.text, *key[1:])
        return cached

    def _forget(self, listing: str, object_id: str, seq: int) -> None:
        """Remember where a deleted object sat in `listing`, so a cursor naming it still works."""
        self._gone.setdefault(listing, {})[object_id] = seq

    def _gone_from(self, listing: str) -> dict[str, int]:
        return self._gone.get(listing, {})
