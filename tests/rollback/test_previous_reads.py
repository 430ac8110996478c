"""`rollback --to previous` reads the records its choice needs, not the history.

The runs come from the folder's index; a record is opened only when the walk back asks for the
state it records. Which files were opened is observed through Python's audit hook (the
interpreter's own `open` event), so the store's real code path is watched, not replaced. A
record the index lists but that cannot be read in full is handled as when every record was read.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from kbctl.errors import SnapshotError
from kbctl.snapshots.catalog import INDEX_FILE
from kbctl.snapshots.codec import snapshot_id
from kbctl.snapshots.previous import Question, from_every_record
from kbctl.snapshots.record import Snapshot
from kbctl.snapshots.store import SnapshotStore
from tests.snapshots.kit import Bench, snapshot_files, text_of

LATER = "2030-01-01T00:00:00Z"  # a record time after every run of the bench
_WATCHING: list[set[str]] = []  # the files opened while a `watch` is open


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _WATCHING and args and isinstance(args[0], (str, os.PathLike)):
        _WATCHING[-1].add(os.path.basename(os.fspath(args[0])))


_HOOKED: list[bool] = []


@contextmanager
def watch() -> Iterator[set[str]]:
    """The names of the files this process opens inside the block."""
    if not _HOOKED:
        sys.addaudithook(_audit)  # an audit hook cannot be removed: it is added once
        _HOOKED.append(True)
    opened: set[str] = set()
    _WATCHING.append(opened)
    try:
        yield opened
    finally:
        _WATCHING.remove(opened)


def version(bench: Bench, n: int) -> None:
    bench.manifest({"a": text_of(f"alpha v{n}"), f"b{n}": text_of(f"bravo v{n}")})


def _apply(bench: Bench) -> tuple[Snapshot, Snapshot]:
    """Apply the manifest: the run's "before" and "after" records."""
    _, hook = bench.apply()
    assert hook.before_snapshot is not None and hook.after_snapshot is not None
    return hook.before_snapshot, hook.after_snapshot


def _history(bench: Bench) -> tuple[list[Snapshot], Snapshot]:
    """Five applies that change the agent, then one that changes nothing: every record, and
    the answer of `previous` (the last change's "before")."""
    records: list[Snapshot] = []
    for n in range(1, 6):
        version(bench, n)
        records.extend(_apply(bench))
    answer = records[-2]
    records.extend(_apply(bench))  # nothing to change
    assert records[-1].outcome == "no_changes"
    bench.store.summaries("staging")  # the index knows every record (what `list` leaves)
    return records, answer


@pytest.mark.parametrize("chunked_above", [256, 1], ids=["full-records", "chunked-records"])
def test_previous_opens_only_the_records_of_the_runs_it_walks_back_over(
    bench: Bench, chunked_above: int
) -> None:
    bench.store = SnapshotStore(bench.store.root, chunked_above=chunked_above)
    records, answer = _history(bench)
    needed = records[-4:]  # the last change and the run that changed nothing after it
    names = {s.file_name for s in records}
    assert len(names) == 12

    with watch() as opened:  # a new store, as each command makes: nothing read before
        chosen = SnapshotStore(bench.store.root).resolve("previous", "staging")
    assert chosen.id == answer.id
    assert chosen.knowledge_base == answer.knowledge_base
    assert opened & names == {s.file_name for s in needed}
    if chunked_above == 1:  # a chunked record reads its own chunks, and no others
        chunks = set()
        for snapshot in needed:
            data = json.loads((bench.store.root / "staging" / snapshot.file_name).read_text())
            chunks |= {f"{c['blob']}.gz" for c in data["knowledge_base_chunks"]["chunks"]}
        blobs = {p.name for p in (bench.store.root / "blobs").iterdir()}
        assert chunks and (opened & blobs) <= chunks

    with watch() as every:  # what reading every record costs: the whole history
        SnapshotStore(bench.store.root).list("staging")
    assert every & names == names

    # Through the CLI: the agent goes back to the state the fifth apply replaced.
    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert bench.store.snapshots("staging")[0].rollback_of == answer.id


def test_previous_over_a_rollback_reads_back_only_to_it(bench: Bench) -> None:
    records, _ = _history(bench)
    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 0, out.output
    rollback_before, rollback_after = bench.store.snapshots("staging")[1::-1]
    assert rollback_after.rollback_of is not None
    bench.store.summaries("staging")
    with watch() as opened:
        chosen = SnapshotStore(bench.store.root).resolve("previous", "staging")
    assert chosen.id == rollback_before.id  # undoing the rollback
    old = {s.file_name for s in records}
    assert not opened & old
    assert {rollback_before.file_name, rollback_after.file_name} <= opened


def test_a_record_damaged_in_place_newer_than_the_answer_is_refused_as_before(
    bench: Bench,
) -> None:
    records, _ = _history(bench)
    index = bench.store.root / "staging" / INDEX_FILE
    kept = index.read_bytes()
    newest = bench.store.root / "staging" / records[-1].file_name
    newest.write_bytes(b"x" * newest.stat().st_size)  # the index still takes it as readable
    with pytest.raises(SnapshotError) as err:
        bench.store.resolve("previous", "staging")
    assert err.value.summary == (
        f"Cannot tell which snapshot is 'previous': {newest.name} cannot be read"
    )
    assert str(newest) in (err.value.detail or "")
    assert index.read_bytes() == kept  # a refusal touches nothing


def test_records_damaged_in_place_older_than_the_answer_are_not_read(bench: Bench) -> None:
    records, answer = _history(bench)
    for snapshot in records[:-4]:  # same names and sizes: only a parse notices
        path = bench.store.root / "staging" / snapshot.file_name
        path.write_bytes(b"x" * path.stat().st_size)
    # Read, they are unreadable (and an unreadable file refuses `previous`)...
    assert (
        sum(item.snapshot is None for item in SnapshotStore(bench.store.root).list("staging")) == 8
    )
    # ...so `previous` succeeding proves it did not read them.
    assert SnapshotStore(bench.store.root).resolve("previous", "staging").id == answer.id


def test_an_index_written_by_the_previous_format_is_rebuilt(bench: Bench) -> None:
    _history(bench)
    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 0, out.output
    newest = bench.store.snapshots("staging")[0]
    bench.store.summaries("staging")  # the index takes in the rollback's records
    index = bench.store.root / "staging" / INDEX_FILE
    current = json.loads(index.read_text())
    assert current["format"] == 3
    assert current["files"][newest.file_name]["rollback_of"] == newest.rollback_of
    assert current["files"][newest.file_name]["agent_updated"] is True

    # What the previous kbctl wrote: format 2, rows without the rollback target nor the flag.
    dropped = {"rollback_of", "agent_updated"}
    rows_v2 = {
        name: {k: v for k, v in row.items() if k not in dropped}
        for name, row in current["files"].items()
    }
    index.write_text(json.dumps({"format": 2, "files": rows_v2}))
    rows = bench.store.summaries("staging")
    assert {r.file: r.rollback_of for r in rows}[newest.file_name] == newest.rollback_of
    assert json.loads(index.read_text()) == current

    # A row of the right format but the wrong shape is not trusted either.
    broken = json.loads(index.read_text())
    broken["files"][newest.file_name]["agent_updated"] = "yes"
    index.write_text(json.dumps(broken))
    bench.store.summaries("staging")
    assert json.loads(index.read_text()) == current
    assert len(snapshot_files(bench.store)) == len(current["files"])


def test_a_lost_chunk_of_a_newer_record_refuses_previous_as_reading_every_record_does(
    bench: Bench,
) -> None:
    bench.store = SnapshotStore(bench.store.root, chunked_above=1)
    records, _ = _history(bench)
    folder = bench.store.root / "staging"
    newest = json.loads((folder / records[-1].file_name).read_text())
    lost = newest["knowledge_base_chunks"]["chunks"][-1]["blob"]
    (bench.store.root / "blobs" / f"{lost}.gz").unlink()  # the index still lists the record

    store = SnapshotStore(bench.store.root)
    question = Question("staging", folder, None, None, store.load, None)
    with pytest.raises(SnapshotError) as every:
        from_every_record(store.list("staging"), question)
    with pytest.raises(SnapshotError) as chosen:
        SnapshotStore(bench.store.root).resolve("previous", "staging")
    assert (chosen.value.summary, chosen.value.detail) == (every.value.summary, every.value.detail)
    assert records[-1].file_name in chosen.value.summary and lost in (chosen.value.detail or "")


def test_a_newer_record_of_another_project_is_read_in_full_before_answering(
    bench: Bench,
) -> None:
    records, answer = _history(bench)
    newest = records[-1]
    other = replace(newest, project="other", id="", seq=newest.seq + 1, created_at=LATER)
    path = bench.store.write(replace(other, id=snapshot_id(other)))
    bench.store.summaries("staging")
    mine = frozenset({newest.project})
    assert SnapshotStore(bench.store.root).resolve("previous", "staging", projects=mine) == (
        SnapshotStore(bench.store.root).load(answer.id)
    )

    # Damaged in place, it is still listed; the walk never asks for its state (another
    # project's), yet it is newer than the answer: refused as when every record was read.
    path.write_bytes(b"x" * path.stat().st_size)
    store = SnapshotStore(bench.store.root)
    question = Question("staging", path.parent, mine, None, store.load, None)
    with pytest.raises(SnapshotError) as every:
        from_every_record(store.list("staging"), question)
    with pytest.raises(SnapshotError) as chosen:
        SnapshotStore(bench.store.root).resolve("previous", "staging", projects=mine)
    assert (chosen.value.summary, chosen.value.detail) == (every.value.summary, every.value.detail)
    assert path.name in chosen.value.summary


def test_an_unreadable_record_older_than_the_answer_does_not_block_previous(
    bench: Bench,
) -> None:
    records, answer = _history(bench)
    oldest = bench.store.root / "staging" / records[0].file_name
    oldest.write_text("{ not json")  # another size: the index marks it unreadable
    listed = SnapshotStore(bench.store.root).list("staging")
    assert listed[-1].snapshot is None  # listed as the oldest, where its name puts it
    assert SnapshotStore(bench.store.root).resolve("previous", "staging").id == answer.id
    # One newer than the answer still refuses, as before.
    newest = bench.store.root / "staging" / records[-1].file_name
    newest.write_text("{ not json")
    with pytest.raises(SnapshotError, match="cannot be read"):
        SnapshotStore(bench.store.root).resolve("previous", "staging")
