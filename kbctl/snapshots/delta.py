"""Delta records: a snapshot file that holds only how its knowledge base differs from a base.

At 10,000 documents a full record is ~5 MB, and an apply writes two; most of it repeats the
record before. A delta record (`format_version` 2, same file name, same canonical JSON) keeps
every field of the snapshot but replaces `knowledge_base` with `knowledge_base_delta`:

    "knowledge_base_delta": {
      "base": "<file name of the base record, same folder>",
      "depth": 3,                    # records to read back to a full one (1: the base is full)
      "documents": 10000,            # entries once rebuilt
      "removed": ["<id>", ...],      # base entries left out (by id)
      "inserted": [{"at": 7, "entry": {...}}, ...],   # entries placed at these final indexes
      "sha256": "<sha256 of the rebuilt knowledge_base>"
    }

Rebuilding: the base's entries without the removed ids, in their order, with each inserted
entry placed at its index (ascending). A changed or moved entry is removed and inserted. The
result must have `documents` entries and the recorded sha256 (of the canonical compact JSON of
the entries), so a damaged base is found, never silently used. Full records (format 1) are
written when there is no usable base, when the chain would exceed `MAX_DEPTH`, or when a delta
would not be much smaller.

Pure: no files (the store reads the chain). Owns the delta's types, its computation, its
rebuilding and its JSON; must not decide which base to use (the store does).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from kbctl.errors import SnapshotError
from kbctl.jsonread import JsonObj
from kbctl.snapshots.codec import (
    TextMemo,
    entries_text,
    entry_from,
    entry_to_json,
    record_reader,
    snapshot_from_json,
    to_dict,
)
from kbctl.snapshots.record import FORMAT_VERSION, Snapshot, SnapshotEntry

DELTA_FORMAT_VERSION = 2
#: Longest chain of delta records before a full record is written again (bounds every read).
MAX_DEPTH = 40
#: A delta is written only when it inserts at most this share of the entries.
MAX_INSERTED_SHARE = 0.5
FIELD = "knowledge_base_delta"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Delta:
    """How a record's knowledge base differs from its base record's."""

    base: str
    depth: int
    documents: int
    removed: tuple[str, ...]
    inserted: tuple[tuple[int, SnapshotEntry], ...]
    sha256: str


@dataclass(frozen=True, slots=True)
class Stored:
    """A record as its file holds it: a full snapshot (`delta` None), or a snapshot whose
    `knowledge_base` is None until rebuilt from `delta` over its base."""

    snapshot: Snapshot
    delta: Delta | None
    count: int | None = None  # entries of a full record read without them (`entries=False`)

    @property
    def depth(self) -> int:
        """Records to read back to a full one (0 for a full record)."""
        return 0 if self.delta is None else self.delta.depth

    @property
    def documents(self) -> int | None:
        """Entries of the knowledge base (None: unknown, the state could not be read)."""
        if self.delta is not None:
            return self.delta.documents
        kb = self.snapshot.knowledge_base
        return self.count if kb is None else len(kb)

    @property
    def new_entries(self) -> tuple[SnapshotEntry, ...]:
        """The entries this file itself holds (all of them for a full record)."""
        if self.delta is not None:
            return tuple(entry for _, entry in self.delta.inserted)
        return self.snapshot.knowledge_base or ()


def kb_digest(entries: Sequence[SnapshotEntry], texts: TextMemo | None = None) -> str:
    """sha256 of a knowledge base's canonical compact JSON (what a delta is checked against)."""
    return hashlib.sha256(entries_text(entries, texts).encode("utf-8")).hexdigest()


def make_delta(
    base_name: str,
    base_depth: int,
    base: Sequence[SnapshotEntry],
    new: Sequence[SnapshotEntry],
    *,
    max_depth: int = MAX_DEPTH,
    texts: TextMemo | None = None,
) -> Delta | None:
    """The delta from `base` to `new`, or None when a full record is the better choice (the
    chain would pass `max_depth`, ids repeat, or most entries changed)."""
    depth = base_depth + 1
    if depth > max_depth or not new:
        return None
    base_ids = [e.id for e in base]
    if len(set(base_ids)) != len(base_ids) or len({e.id for e in new}) != len(new):
        return None
    position = {e.id: i for i, e in enumerate(base)}
    # Entries kept as they are: the longest run whose base positions increase stays in place.
    same = [(i, position[e.id]) for i, e in enumerate(new) if _unchanged(base, position, e)]
    kept = _increasing(same)
    kept_ids = {new[i].id for i in kept}
    removed = tuple(e.id for e in base if e.id not in kept_ids)
    inserted = tuple((i, e) for i, e in enumerate(new) if i not in kept)
    if len(inserted) > MAX_INSERTED_SHARE * len(new):
        return None
    return Delta(base_name, depth, len(new), removed, inserted, kb_digest(new, texts))


def _unchanged(base: Sequence[SnapshotEntry], position: dict[str, int], e: SnapshotEntry) -> bool:
    """True when the base holds `e` exactly (same id, same fields)."""
    at = position.get(e.id)
    return at is not None and base[at] == e


def _increasing(pairs: list[tuple[int, int]]) -> set[int]:
    """The new indexes of a longest subsequence of `pairs` whose base positions increase."""
    tails: list[int] = []  # base position ending the best run of each length
    tail_at: list[int] = []  # index into pairs of that ending
    parent: list[int] = [-1] * len(pairs)
    for n, (_, pos) in enumerate(pairs):
        k = bisect.bisect_left(tails, pos)
        if k == len(tails):
            tails.append(pos)
            tail_at.append(n)
        else:
            tails[k] = pos
            tail_at[k] = n
        parent[n] = tail_at[k - 1] if k > 0 else -1
    out: set[int] = set()
    n = tail_at[-1] if tail_at else -1
    while n >= 0:
        out.add(pairs[n][0])
        n = parent[n]
    return out


def rebuild(base: Sequence[SnapshotEntry], delta: Delta, source: str) -> tuple[SnapshotEntry, ...]:
    """The knowledge base `delta` describes over `base`; `source` names the record in errors.

    Raises:
        SnapshotError: the delta does not fit its base (a removed id it lacks, an index out of
            range, the wrong number of entries).
    """
    removed = set(delta.removed)
    survivors = [e for e in base if e.id not in removed]
    if len(base) - len(survivors) != len(removed):
        raise _mismatch(source, delta, "it removes documents its base record does not hold")
    out: list[SnapshotEntry] = []
    it = iter(survivors)
    for at, entry in delta.inserted:
        while len(out) < at:
            nxt = next(it, None)
            if nxt is None:
                raise _mismatch(source, delta, f"it inserts at index {at}, past the end")
            out.append(nxt)
        if len(out) != at:
            raise _mismatch(source, delta, "its insertions are not in ascending order")
        out.append(entry)
    out.extend(it)
    if len(out) != delta.documents:
        raise _mismatch(
            source, delta, f"it rebuilds {len(out)} documents, not the {delta.documents} recorded"
        )
    return tuple(out)


def _mismatch(source: str, delta: Delta, problem: str) -> SnapshotError:
    return SnapshotError(
        f"Snapshot {source} does not fit its base record {delta.base}",
        detail=f"The record stores only its changes from {delta.base}, and {problem}: one of "
        "the two files was changed or replaced after it was written.",
        hint="Restore both files from git (snapshots are committed together), or pick another "
        "snapshot with `kbctl snapshots list`.",
    )


# --------------------------------------------------------------------------------------------
# JSON


def dumps_record(snapshot: Snapshot, delta: Delta | None) -> str:
    """The file's text: the full record, or the delta record (canonical JSON either way)."""
    data = to_dict(snapshot if delta is None else replace(snapshot, knowledge_base=None))
    if delta is not None:
        del data["knowledge_base"]
        data["format_version"] = DELTA_FORMAT_VERSION
        data[FIELD] = {
            "base": delta.base,
            "depth": delta.depth,
            "documents": delta.documents,
            "removed": list(delta.removed),
            "inserted": [{"at": at, "entry": entry_to_json(e)} for at, e in delta.inserted],
            "sha256": delta.sha256,
        }
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def parse_record(text: str | bytes, source: str, *, entries: bool = True) -> Stored:
    """A record file's text, full (format 1) or delta (format 2), checked strictly.

    `entries=False` reads every field but a full record's knowledge base, which is only
    counted (what an index row needs, at a fraction of the cost).

    Raises:
        SnapshotError: bad JSON, a wrong shape, or an unknown format version.
    """
    reader = record_reader(source)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise reader.fail(f"not valid JSON: {err.msg} (line {err.lineno})") from None
    except UnicodeDecodeError as err:
        raise reader.fail(f"not UTF-8: {err}") from None
    if not isinstance(raw, dict) or raw.get("format_version") != DELTA_FORMAT_VERSION:
        kb = raw.get("knowledge_base") if isinstance(raw, dict) else None
        if entries or not isinstance(kb, list):
            return Stored(snapshot_from_json(raw, source), None)
        header = {k: v for k, v in raw.items() if k != "knowledge_base"}
        header["knowledge_base"] = None
        return Stored(snapshot_from_json(header, source), None, len(kb))
    if "knowledge_base" in raw:
        raise reader.fail("snapshot.knowledge_base: a delta record must not hold one")
    delta = _delta_from(reader.root(raw, "snapshot").obj(FIELD))
    full = {k: v for k, v in raw.items() if k != FIELD}
    full["format_version"] = FORMAT_VERSION
    full["knowledge_base"] = None
    return Stored(snapshot_from_json(full, source), delta)


def _delta_from(data: JsonObj) -> Delta:
    fail = data.reader.fail
    base = data.text("base")
    if not base.endswith(".json") or "/" in base or "\\" in base or base.startswith("."):
        raise fail(f"{data.at('base')}: expected a record's file name")
    sha = data.text("sha256")
    if not _HEX64.fullmatch(sha):
        raise fail(f"{data.at('sha256')}: expected 64 lowercase hex digits")
    depth, documents = data.integer("depth"), data.integer("documents")
    if depth < 1:
        raise fail(f"{data.at('depth')}: expected an integer ≥ 1, got {depth}")
    if documents < 0:
        raise fail(f"{data.at('documents')}: expected 0 or more")
    inserted: list[tuple[int, SnapshotEntry]] = []
    for item in data.objs("inserted"):
        at = item.integer("at")
        if at < 0 or (inserted and at <= inserted[-1][0]):
            raise fail(f"{item.at('at')}: expected indexes that increase from 0")
        inserted.append((at, entry_from(item.obj("entry"))))
    return Delta(base, depth, documents, data.texts("removed"), tuple(inserted), sha)


def resolved(stored: Stored, entries: tuple[SnapshotEntry, ...]) -> Snapshot:
    """The snapshot of `stored` with its rebuilt knowledge base."""
    return replace(stored.snapshot, knowledge_base=entries)
