"""Snapshot cost does not grow with history: apply and `snapshots list` read the folder's index,
not every record; an index lost, damaged or of an older kbctl is rebuilt from the records."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from kbctl import commands
from kbctl.clock import FakeClock
from kbctl.commands import Session
from kbctl.snapshots.catalog import CONTENTS_FILE, INDEX_FILE
from kbctl.snapshots.codec import dumps, snapshot_id
from kbctl.snapshots.store import SnapshotStore
from tests.cli.test_plan_cli import write_project
from tests.snapshots.kit import Bench, snapshot_files, text_of


def _session(tmp_path: Path) -> Session:
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 3)
    url = f"emulator://{tmp_path}/emu?index_seconds=0"
    return Session(FakeClock(), environ={"ELEVENLABS_BASE_URL": url}, cwd=tmp_path)


def test_apply_reads_the_index_not_the_history(tmp_path: Path) -> None:
    session = _session(tmp_path)
    commands.apply(session, "local", auto_approve=True)
    store = SnapshotStore(tmp_path / "state-snapshots")
    (newest, *_) = store.snapshots("local")
    # A long history: 40 older records, up to write sequence 500.
    history = []
    for n in range(40):
        old = replace(newest, id="", seq=500 - n, created_at=f"2020-01-01T00:00:{n:02}Z")
        history.append(store.write(replace(old, id=snapshot_id(old))))
    assert store.next_seq("local") == 501  # first use: the folder is indexed (migrated)
    hashes = set(store.content_index())
    assert len(hashes) == 3
    # Every old record becomes unreadable, same size: only a re-parse of the history notices.
    for path in history:
        path.write_bytes(b"x" * path.stat().st_size)

    (tmp_path / "manifests/alpha/d00.md").write_text("# changed\n\n" + "New prices. " * 60)
    run = commands.apply(session, "local", auto_approve=True)
    assert run.summary.startswith("1 replaced")
    after = store.load(run.snapshots[0])
    assert after.seq > 501  # the sequence came from the index, not from the damaged files
    assert hashes < set(store.content_index())  # old contents still known, the new one added

    # The index is a cache: lost, it is rebuilt from the files that can be read.
    (tmp_path / "state-snapshots/local" / INDEX_FILE).unlink()
    assert store.next_seq("local") == after.seq + 1
    index = json.loads((tmp_path / "state-snapshots/local" / INDEX_FILE).read_text())
    assert sum(row["error"] is not None for row in index["files"].values()) == 40
    listed = store.list("local")  # the index is never listed as a snapshot
    assert len(listed) == 44 and sum(item.snapshot is None for item in listed) == 40


def test_a_damaged_index_is_rebuilt(tmp_path: Path) -> None:
    session = _session(tmp_path)
    commands.apply(session, "local", auto_approve=True)
    store = SnapshotStore(tmp_path / "state-snapshots")
    expected = store.next_seq("local")
    (tmp_path / "state-snapshots/local" / INDEX_FILE).write_text("<<<<<<< conflict\n")
    assert store.next_seq("local") == expected
    assert len(store.content_index()) == 3


def _list(bench: Bench) -> list[dict[str, object]]:
    out = bench.run("snapshots", "list", "-e", "staging", "--format", "json")
    assert out.exit_code == 0, out.output
    rows: list[dict[str, object]] = json.loads(out.stdout)
    return rows


def _two_applies(bench: Bench) -> None:
    bench.manifest({"a": text_of("alpha v1"), "b": text_of("bravo")})
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    bench.manifest({"a": text_of("alpha v2"), "b": text_of("bravo")})
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0


def test_list_is_served_from_the_index_and_rebuilt_when_it_is_lost(bench: Bench) -> None:
    _two_applies(bench)
    listed = _list(bench)
    assert [r["outcome"] for r in listed] == ["applied", "pending", "applied", "pending"]
    assert [r["documents"] for r in listed] == [4, 4, 4, 0]
    assert [r["base"] for r in listed] == [None] * 4  # small knowledge bases: full records
    # Same names and sizes, unreadable content: only a parse of the records would notice.
    for path in snapshot_files(bench.store):
        path.write_bytes(b"x" * path.stat().st_size)
    assert _list(bench) == listed

    index = bench.store.root / "staging" / INDEX_FILE
    index.write_text("<<<<<<< conflict\n")
    rebuilt = _list(bench)
    assert sorted(str(r["id"]) for r in rebuilt) == sorted(str(r["id"]) for r in listed)
    assert all(str(r["outcome"]).startswith("unreadable: ") for r in rebuilt)
    index.unlink()
    assert [r["outcome"] for r in _list(bench)] == [r["outcome"] for r in rebuilt]
    assert index.is_file()


def test_a_folder_written_before_delta_records_still_lists_shows_and_rolls_back(
    bench: Bench,
) -> None:
    _two_applies(bench)
    v2_state = bench.kb_state()
    folder = bench.store.root / "staging"
    # The old layout: every record in full (format 1), the old index format, no contents file.
    snapshots = bench.store.snapshots("staging")
    old_index: dict[str, object] = {"format": 1, "files": {}, "contents": {}}
    for snapshot in snapshots:
        path = folder / snapshot.file_name
        path.write_text(dumps(snapshot))
        assert json.loads(path.read_text())["format_version"] == 1
        old_index["files"][path.name] = [path.stat().st_size, snapshot.seq]  # type: ignore[index]
    (folder / INDEX_FILE).write_text(json.dumps(old_index))
    (folder / CONTENTS_FILE).unlink(missing_ok=True)

    listed = _list(bench)
    assert [r["outcome"] for r in listed] == ["applied", "pending", "applied", "pending"]
    assert all(r["base"] is None for r in listed)
    shown = bench.run("snapshots", "show", str(listed[0]["id"]), "--format", "json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == listed[0]["id"]

    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert bench.kb_state() != v2_state
    # The next records are written as this kbctl writes them; the old ones stay as they were.
    newest = json.loads(snapshot_files(bench.store)[-1].read_text())
    assert newest["format_version"] == 1
    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert bench.kb_state() == v2_state


def test_the_content_index_grows_by_appending_and_a_cut_line_is_rebuilt(bench: Bench) -> None:
    _two_applies(bench)
    contents = bench.store.root / "staging" / CONTENTS_FILE
    # A run finds the contents of documents the manifest dropped in its base record: the
    # folder's content index is built only when something asks for it (here, or a plan's diff).
    assert not contents.exists()
    known = set(bench.store.content_index())
    assert len(known) == 5  # a v1, a v2, b, the rules text and the FAQ URL
    lines = contents.read_bytes().splitlines()
    assert len(lines) == 4  # a line per record

    bench.manifest({"a": text_of("alpha v3"), "b": text_of("bravo")})
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    assert len(set(SnapshotStore(bench.store.root).content_index())) == 6
    grown = contents.read_bytes()
    assert grown.startswith(b"".join(line + b"\n" for line in lines))  # appended to
    assert len(grown.splitlines()) == 6

    contents.write_bytes(grown[:-20])  # an append cut short
    assert len(set(SnapshotStore(bench.store.root).content_index())) == 6
    assert len(contents.read_bytes().splitlines()) == 6 and contents.read_bytes().endswith(b"\n")


def test_list_reads_a_folder_whose_index_cannot_be_written(bench: Bench) -> None:
    _two_applies(bench)
    index = bench.store.root / "staging" / INDEX_FILE
    index.unlink()
    index.mkdir()  # the index cannot be replaced (as in a read-only checkout), even by root
    listed = _list(bench)
    assert [r["outcome"] for r in listed] == ["applied", "pending", "applied", "pending"]
    assert index.is_dir()
