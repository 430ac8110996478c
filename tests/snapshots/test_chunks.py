"""Content-defined chunks of a knowledge base: cutting and joining is the identity, every chunk
is bounded, and an insertion, a removal or an edit changes only the chunks around it."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kbctl.errors import SnapshotError
from kbctl.model import DocType, UsageMode
from kbctl.snapshots.chunks import (
    MAX_CHUNK,
    Pieces,
    chunk_entries,
    ends_chunk,
    joined,
    split,
)
from kbctl.snapshots.delta import kb_digest
from kbctl.snapshots.record import SnapshotEntry


def _entry(doc_id: str, mode: UsageMode = UsageMode.AUTO) -> SnapshotEntry:
    digest = hashlib.sha256(doc_id.encode()).hexdigest()
    return SnapshotEntry(
        doc_id, f"{doc_id} name", DocType.TEXT, mode, f"docs/{doc_id}.md", digest, True, digest
    )


def _kb(n: int, prefix: str = "doc") -> tuple[SnapshotEntry, ...]:
    return tuple(_entry(f"{prefix}{i:05}") for i in range(n))


def _names(pieces: Pieces) -> list[str]:
    return [hashlib.sha256(data).hexdigest() for data, _ in pieces.chunks]


def _rebuilt(pieces: Pieces) -> tuple[SnapshotEntry, ...]:
    chunked = pieces.named(_names(pieces))
    parts = [(data, chunk_entries(data, "r.json")) for data, _ in pieces.chunks]
    return joined(chunked, parts, "r.json")


def _changed(old: Pieces, new: Pieces) -> int:
    """Chunks of `new` that `old` does not have (the new blobs a record of `new` writes)."""
    return len(set(_names(new)) - set(_names(old)))


def test_chunks_average_sixteen_entries_and_rebuild_the_knowledge_base() -> None:
    kb = _kb(2000)
    pieces = split(kb)
    assert 2000 / 32 < len(pieces.chunks) < 2000 / 8
    assert all(1 <= n <= MAX_CHUNK for _, n in pieces.chunks)
    assert pieces.sha256 == kb_digest(kb) and pieces.documents == 2000
    assert _rebuilt(pieces) == kb


@pytest.mark.parametrize(
    "change",
    ["insert at the front", "remove the first", "insert in the middle", "edit one", "move one"],
)
def test_a_change_rewrites_at_most_two_chunks(change: str) -> None:
    kb = list(_kb(1000))
    old = split(kb)
    match change:
        case "insert at the front":
            kb.insert(0, _entry("new"))
        case "remove the first":
            del kb[0]
        case "insert in the middle":
            kb.insert(500, _entry("new"))
        case "edit one":
            kb[300] = _entry(kb[300].id, UsageMode.PROMPT)
        case "move one":
            kb.insert(900, kb.pop(100))
    limit = 4 if change == "move one" else 2  # a move is a removal and an insertion
    assert _changed(old, split(kb)) <= limit


def test_a_run_of_ids_without_a_boundary_is_cut_at_the_most_a_chunk_holds() -> None:
    ids = (f"x{n}" for n in itertools.count())
    kb = tuple(_entry(i) for i in itertools.islice((i for i in ids if not ends_chunk(i)), 200))
    pieces = split(kb)
    assert [n for _, n in pieces.chunks] == [64, 64, 64, 8]
    assert _rebuilt(pieces) == kb


def test_an_empty_knowledge_base_has_no_chunks() -> None:
    pieces = split(())
    assert pieces.chunks == () and pieces.sha256 == kb_digest(())
    assert _rebuilt(pieces) == ()


def test_a_chunk_count_that_does_not_match_is_refused() -> None:
    pieces = split(_kb(100))
    chunked = pieces.named(_names(pieces))
    parts = [(data, chunk_entries(data, "r.json")) for data, _ in pieces.chunks]
    parts[0] = (parts[0][0], parts[0][1][:-1])
    with pytest.raises(SnapshotError, match="does not fit its chunks") as caught:
        joined(chunked, parts, "r.json")
    assert "entries, not the" in (caught.value.detail or "")


_ids = st.lists(st.text("abcdef0123456789", min_size=1, max_size=6), unique=True, max_size=300)


@given(ids=_ids, at=st.integers(min_value=0), new=st.text("ghij", min_size=1, max_size=4))
def test_chunking_is_the_identity_and_an_insertion_changes_two_chunks_at_most(
    ids: list[str], at: int, new: str
) -> None:
    kb = tuple(_entry(i) for i in ids)
    unbounded = 10**9  # only content-defined boundaries: a forced cut may move with an insert
    old = split(kb, max_chunk=unbounded)
    assert _rebuilt(old) == kb
    assert _rebuilt(split(kb)) == kb
    at = at % (len(kb) + 1)
    grown = (*kb[:at], _entry(new), *kb[at:])
    assert _changed(old, split(grown, max_chunk=unbounded)) <= 2


def test_entries_read_once_are_shared_and_any_json_layout_reads() -> None:
    (first, count), *_ = split(_kb(100)).chunks
    kb = _kb(100)[:count]
    memo: dict[str, SnapshotEntry] = {}
    read = chunk_entries(first, "r.json", memo)
    assert read == kb and len(memo) == count
    again = chunk_entries(first, "s.json", memo)
    assert all(a is b for a, b in zip(read, again, strict=True))  # the same objects
    spaced = json.dumps(json.loads(first), indent=1).encode()
    assert chunk_entries(spaced, "r.json", memo) == kb
    for bad, problem in ((b'{"id": 1}', "not a JSON array"), (b"[{", "not valid JSON")):
        with pytest.raises(SnapshotError, match="is corrupt") as caught:
            chunk_entries(bad, "r.json")
        assert problem in (caught.value.detail or "")
