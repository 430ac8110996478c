"""Delta records (`format_version` 2): a snapshot file holding only how its knowledge base
differs from a base record. Read, never written any more (chunked records, `chunks`, replaced
them: a delta chain needs a full record every 40, and that full record is ~5 MB at 10,000
documents). Same file name, same canonical JSON, every field of the snapshot but
`knowledge_base`, replaced by `knowledge_base_delta`:

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
the entries), so a damaged base is found, never silently used. The base may be a record of any
format (full, delta or chunked).

Pure: no files (`chain` reads the chain). Owns the delta's types, its rebuilding and its JSON.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from kbctl.errors import SnapshotError
from kbctl.jsonread import JsonObj
from kbctl.snapshots.codec import TextMemo, entries_text, entry_from, entry_to_json
from kbctl.snapshots.record import SnapshotEntry

DELTA_FORMAT_VERSION = 2
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


def kb_digest(entries: Sequence[SnapshotEntry], texts: TextMemo | None = None) -> str:
    """sha256 of a knowledge base's canonical compact JSON (what a delta is checked against)."""
    return hashlib.sha256(entries_text(entries, texts).encode("utf-8")).hexdigest()


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


def delta_to_json(delta: Delta) -> dict[str, object]:
    """The `knowledge_base_delta` field."""
    return {
        "base": delta.base,
        "depth": delta.depth,
        "documents": delta.documents,
        "removed": list(delta.removed),
        "inserted": [{"at": at, "entry": entry_to_json(e)} for at, e in delta.inserted],
        "sha256": delta.sha256,
    }


def delta_from(data: JsonObj) -> Delta:
    """The `knowledge_base_delta` field, read strictly."""
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
