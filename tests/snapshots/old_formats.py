"""The records older kbctl versions wrote, to check that this one still reads them: delta
records (`format_version` 2), computed as kbctl computed them, and written over a folder of
full records (same file names: a record's id does not depend on how it is stored)."""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from pathlib import Path

from kbctl.snapshots.codec import TextMemo
from kbctl.snapshots.delta import Delta, kb_digest
from kbctl.snapshots.record import SnapshotEntry
from kbctl.snapshots.recordfile import dumps_record
from kbctl.snapshots.store import SnapshotStore

#: Longest chain of delta records kbctl wrote before a full record.
MAX_DEPTH = 40
#: A delta was written only when it inserted at most this share of the entries.
MAX_INSERTED_SHARE = 0.5


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


def as_delta(record: Path, base: Path) -> None:
    """Rewrite record `record` as a delta record over `base` (same folder), as kbctl wrote
    them; `base` may be a record of any format (a delta record already rewritten)."""
    store = SnapshotStore(record.parent.parent)
    top, under = store.load(str(record)), store.load(str(base))
    assert top.knowledge_base is not None and under.knowledge_base is not None
    raw = json.loads(base.read_text(encoding="utf-8"))
    depth = raw["knowledge_base_delta"]["depth"] if raw["format_version"] == 2 else 0
    delta = make_delta(base.name, depth, under.knowledge_base, top.knowledge_base, max_depth=10**6)
    assert delta is not None, "too large a change for a delta record"
    record.write_text(dumps_record(top, delta), encoding="utf-8")
