"""Snapshot cost does not grow with history: apply reads the folder's index, not every record."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from kbctl import commands
from kbctl.clock import FakeClock
from kbctl.commands import Session
from kbctl.snapshots.catalog import INDEX_FILE
from kbctl.snapshots.codec import snapshot_id
from kbctl.snapshots.store import SnapshotStore
from tests.cli.test_plan_cli import write_project


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
    assert sum(seq is None for _, seq in index["files"].values()) == 40
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
