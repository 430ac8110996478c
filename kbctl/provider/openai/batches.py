"""Attaching many files at once with file batches, and reading their processing back.

Owns the grouping (the `files` form of `POST /vector_stores/{id}/file_batches` carries each
file's own attributes and chunking, so one group holds up to 2,000 files whatever their
settings: N files take ⌈N/2000⌉ requests), which batch holds which file, and turning a batch's
counts into per-file index states with as few reads as the counts allow: one `GET` of the batch;
when some files finished and others not, the listing of those still `in_progress` (and of the
`failed` and `cancelled` ones, only when the counts say there are any); every other file of the
batch is `completed`. Must not decide anything (the executor's gate does).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from kbctl.chunking import Chunking, MetadataValue
from kbctl.model import IndexStatus
from kbctl.provider.base import IndexState
from kbctl.provider.openai import shapes
from kbctl.provider.openai.api import OpenAIApi
from kbctl.provider.openai.shapes import Batch, state_of

#: The most files one batch may hold (reference §6).
MAX_BATCH_FILES: Final = 2000
#: A file to attach: the File's id, its attributes, its chunking.
Attachment = tuple[str, Mapping[str, MetadataValue], Chunking | None]

_PROCESSING = IndexState(IndexStatus.PROCESSING)
_COMPLETED = IndexState(IndexStatus.SUCCEEDED, 100.0)


class FileBatches:
    """The batches this process created in one store, and their files."""

    def __init__(self, api: OpenAIApi) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._batch_of: dict[str, str] = {}  # file id → batch id

    def attach(self, store_id: str, files: Sequence[Attachment]) -> dict[str, IndexState]:
        """Attach `files` in batches of up to 2,000; each file's state as the answers tell."""
        out: dict[str, IndexState] = {}
        for start in range(0, len(files), MAX_BATCH_FILES):
            group = files[start : start + MAX_BATCH_FILES]
            bodies = [shapes.attachment_body(f, attrs, chunking) for f, attrs, chunking in group]
            batch = self._api.create_batch(store_id, bodies)
            ids = [file_id for file_id, _, _ in group]
            with self._lock:
                self._batch_of.update((file_id, batch.id) for file_id in ids)
            out.update(self._states(store_id, batch, ids))
        return out

    def states(
        self, store_id: str, file_ids: Iterable[str]
    ) -> tuple[dict[str, IndexState], list[str]]:
        """The states of the files a batch of this process holds (one read per batch, plus the
        listings its counts call for), and the ids no such batch holds — or whose batch counts
        fewer files than asked for (detached since: the store's listing tells)."""
        by_batch: dict[str, list[str]] = {}
        rest: list[str] = []
        with self._lock:
            for file_id in file_ids:
                batch_id = self._batch_of.get(file_id)
                if batch_id is None:
                    rest.append(file_id)
                else:
                    by_batch.setdefault(batch_id, []).append(file_id)
        out: dict[str, IndexState] = {}
        for batch_id, ids in by_batch.items():
            batch = self._api.batch(store_id, batch_id)
            if batch.total < len(ids):  # some were detached since: the store's listing says
                rest.extend(ids)
                self.forget(ids)
                continue
            out.update(self._states(store_id, batch, ids))
        return out, rest

    def forget(self, file_ids: Iterable[str]) -> None:
        """Files detached or deleted since: read from the store again, not from the batch."""
        with self._lock:
            for file_id in file_ids:
                self._batch_of.pop(file_id, None)

    def _states(self, store_id: str, batch: Batch, ids: list[str]) -> dict[str, IndexState]:
        if batch.in_progress == batch.total:
            return dict.fromkeys(ids, _PROCESSING)  # nothing finished yet: nothing to list
        known: dict[str, IndexState] = {}
        for status, count in (
            ("in_progress", batch.in_progress),
            ("failed", batch.failed),
            ("cancelled", batch.cancelled),
        ):
            if count:
                for sf in self._api.batch_files(store_id, batch.id, status):
                    known[sf.id] = state_of(sf)
        return {file_id: known.get(file_id, _COMPLETED) for file_id in ids}
