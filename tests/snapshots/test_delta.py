"""Delta records (written by older kbctl versions, still read) rebuild exactly the knowledge
base they were made from, whatever changed: entries added, removed, changed in place or moved."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kbctl.errors import SnapshotError
from kbctl.model import DocType, UsageMode
from kbctl.snapshots.delta import Delta, kb_digest, rebuild
from kbctl.snapshots.record import SnapshotEntry
from tests.snapshots.old_formats import make_delta


def _entry(doc_id: str, mode: UsageMode = UsageMode.AUTO) -> SnapshotEntry:
    return SnapshotEntry(doc_id, f"{doc_id} name", DocType.TEXT, mode, doc_id, None, True)


_kb = st.lists(
    st.tuples(st.sampled_from("abcdefghijklmnop"), st.sampled_from(list(UsageMode))),
    unique_by=lambda pair: pair[0],
    max_size=16,
).map(lambda pairs: tuple(_entry(i, m) for i, m in pairs))


@given(base=_kb, new=_kb)
def test_a_delta_rebuilds_its_knowledge_base(
    base: tuple[SnapshotEntry, ...], new: tuple[SnapshotEntry, ...]
) -> None:
    delta = make_delta("base.json", 0, base, new, max_depth=5)
    if delta is None:  # a full record is written instead
        return
    assert rebuild(base, delta, "top.json") == new
    assert delta.sha256 == kb_digest(new) and delta.documents == len(new)
    assert len(delta.inserted) <= len(new) // 2


def test_a_small_change_stores_only_what_changed() -> None:
    base = tuple(_entry(f"doc{n:03}") for n in range(100))
    new = list(base)
    new[10] = _entry("doc010", UsageMode.PROMPT)  # changed in place
    new[50] = _entry("new050")  # replaced by a new document
    new.insert(0, new.pop(99))  # moved to the front
    delta = make_delta("base.json", 3, base, tuple(new))
    assert delta is not None and delta.depth == 4
    assert sorted(delta.removed) == ["doc010", "doc050", "doc099"]
    assert [(at, e.id) for at, e in delta.inserted] == [
        (0, "doc099"),
        (11, "doc010"),
        (51, "new050"),
    ]
    assert rebuild(base, delta, "top.json") == tuple(new)


def test_the_chain_bound_and_a_large_change_mean_a_full_record() -> None:
    base = tuple(_entry(f"doc{n}") for n in range(10))
    assert make_delta("b.json", 40, base, base[:9]) is None  # depth 41 > 40
    assert make_delta("b.json", 0, base, tuple(_entry(f"x{n}") for n in range(10))) is None


def test_a_delta_that_does_not_fit_its_base_is_refused() -> None:
    base = tuple(_entry(f"doc{n}") for n in range(4))
    delta = make_delta("base.json", 0, base, base[:3])
    assert delta is not None
    with pytest.raises(SnapshotError, match=r"does not fit its base record base\.json") as err:
        rebuild((*base, _entry("extra")), delta, "top.json")
    assert "rebuilds 4 documents, not the 3 recorded" in (err.value.detail or "")
    gone = Delta("base.json", 1, 3, ("zzz",), (), delta.sha256)
    with pytest.raises(SnapshotError, match="does not fit"):
        rebuild(base, gone, "top.json")
