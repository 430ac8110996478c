"""A record file as it is stored, in any of its formats: full (1), delta (2) or chunked (3).

`dumps_record` writes any of them (kbctl writes full and chunked records; a delta record is
what older versions wrote); `parse_record` reads all three, strictly, into a `Stored`: the
snapshot, with its knowledge base when the file holds it, else what it takes to rebuild it (a
delta over a base record, `delta`, or chunks in the blob folder, `chunks`). Pure: no files
(`chain` reads them and rebuilds). Owns the dispatch on `format_version`; must not read
blobs or other records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from kbctl.snapshots.chunks import CHUNKED_FORMAT_VERSION, Chunked, chunked_from, chunked_to_json
from kbctl.snapshots.chunks import FIELD as CHUNKS_FIELD
from kbctl.snapshots.codec import record_json, record_reader, snapshot_from_json, to_dict
from kbctl.snapshots.delta import DELTA_FORMAT_VERSION, Delta, delta_from, delta_to_json
from kbctl.snapshots.delta import FIELD as DELTA_FIELD
from kbctl.snapshots.record import FORMAT_VERSION, Snapshot, SnapshotEntry

_FIELDS = {DELTA_FORMAT_VERSION: DELTA_FIELD, CHUNKED_FORMAT_VERSION: CHUNKS_FIELD}


@dataclass(frozen=True, slots=True)
class Stored:
    """A record as its file holds it: a snapshot with its knowledge base, or one whose
    `knowledge_base` is None until rebuilt from `delta` over its base or from `chunked`."""

    snapshot: Snapshot
    delta: Delta | None
    count: int | None = None  # entries of a full record read without them (`entries=False`)
    chunked: Chunked | None = None

    @property
    def depth(self) -> int:
        """Records to read back to one that needs no other (0 for a full or chunked one)."""
        return 0 if self.delta is None else self.delta.depth

    @property
    def documents(self) -> int | None:
        """Entries of the knowledge base (None: unknown, the state could not be read)."""
        if self.delta is not None:
            return self.delta.documents
        kb = self.snapshot.knowledge_base
        if kb is not None:
            return len(kb)
        return self.chunked.documents if self.chunked is not None else self.count

    @property
    def new_entries(self) -> tuple[SnapshotEntry, ...]:
        """The entries this record adds to what its base holds (all of them but for a delta)."""
        if self.delta is not None:
            return tuple(entry for _, entry in self.delta.inserted)
        return self.snapshot.knowledge_base or ()


def dumps_record(
    snapshot: Snapshot, delta: Delta | None = None, chunked: Chunked | None = None
) -> str:
    """The file's text: the full record, or its knowledge base replaced by `delta` or by
    `chunked` (canonical JSON either way)."""
    if delta is None and chunked is None:
        data = to_dict(snapshot)
    else:
        data = to_dict(replace(snapshot, knowledge_base=None))
        del data["knowledge_base"]
        if delta is not None:
            data["format_version"] = DELTA_FORMAT_VERSION
            data[DELTA_FIELD] = delta_to_json(delta)
        elif chunked is not None:
            data["format_version"] = CHUNKED_FORMAT_VERSION
            data[CHUNKS_FIELD] = chunked_to_json(chunked)
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def parse_record(text: str | bytes, source: str, *, entries: bool = True) -> Stored:
    """A record file's text, full, delta or chunked, checked strictly.

    `entries=False` reads every field but a full record's knowledge base, which is only
    counted (what an index row needs, at a fraction of the cost).

    Raises:
        SnapshotError: bad JSON, a wrong shape, or an unknown format version.
    """
    reader = record_reader(source)
    raw = record_json(text, source)
    version = raw.get("format_version") if isinstance(raw, dict) else None
    field = _FIELDS.get(version) if isinstance(version, int) else None
    if not isinstance(raw, dict) or field is None:
        kb = raw.get("knowledge_base") if isinstance(raw, dict) else None
        if entries or not isinstance(kb, list):
            return Stored(snapshot_from_json(raw, source), None)
        header = {k: v for k, v in raw.items() if k != "knowledge_base"}
        header["knowledge_base"] = None
        return Stored(snapshot_from_json(header, source), None, len(kb))
    if "knowledge_base" in raw:
        raise reader.fail(f"snapshot.knowledge_base: a record holding {field} must not hold one")
    obj = reader.root(raw, "snapshot").obj(field)
    full = {k: v for k, v in raw.items() if k != field}
    full["format_version"] = FORMAT_VERSION
    full["knowledge_base"] = None
    snapshot = snapshot_from_json(full, source)
    if field == DELTA_FIELD:
        return Stored(snapshot, delta_from(obj))
    return Stored(snapshot, None, chunked=chunked_from(obj))


def resolved(stored: Stored, entries: tuple[SnapshotEntry, ...]) -> Snapshot:
    """The snapshot of `stored` with its rebuilt knowledge base."""
    return replace(stored.snapshot, knowledge_base=entries)
