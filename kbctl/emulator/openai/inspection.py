"""What tests (and `kbctl` end-to-end checks) may read or change directly on an `OpenAIWorld`,
without HTTP: the objects as the API would answer them, and settings of a running emulator.

Owns the test-facing surface. Must not offer a way to change objects that the API does not
have: tests change state through the endpoints, as kbctl does.
"""

from __future__ import annotations

import dataclasses

from kbctl.emulator.openai import wire
from kbctl.emulator.openai.records import Json
from kbctl.emulator.openai.state import OpenAIState


class Inspection(OpenAIState):
    """Read-only views for tests (a mixin of `OpenAIWorld`)."""

    def file_ids(self) -> list[str]:
        """Ids of every File, in upload order."""
        with self._lock:
            return [f.id for f in sorted(self._files.values(), key=lambda f: f.seq)]

    def files(self) -> list[Json]:
        """Every File object, in upload order."""
        with self._lock:
            return [wire.file_json(f) for f in sorted(self._files.values(), key=lambda f: f.seq)]

    def stores(self) -> list[Json]:
        """Every VectorStore object (counts as of now), oldest first."""
        with self._lock:
            ordered = sorted(self._stores.values(), key=lambda vs: vs.seq)
            return [self._store_json(vs) for vs in ordered]

    def store_files(self, store_id: str) -> list[Json]:
        """The VectorStoreFile objects of a store (statuses as of now), oldest first."""
        with self._lock:
            self._store(store_id)
            atts = sorted(self._attached[store_id].values(), key=lambda a: a.seq)
            return [self._store_file_json(a) for a in atts]

    def replace_config(self, **changes: object) -> None:
        """Change settings of a running emulator, e.g. `fail_index_containing=("X",)`."""
        with self._lock:
            self.config = dataclasses.replace(self.config, **changes)  # type: ignore[arg-type]
