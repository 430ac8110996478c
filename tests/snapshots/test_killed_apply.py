"""An apply killed half-way leaves valid snapshots that say what it had done.

Every snapshot write is atomic, so what is on disk at any instant is exactly what a `kill -9`
at that instant leaves. The in-process tests copy the folder at chosen moments; the last one
really kills a process (`os._exit`, no cleanup, no `finally`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from kbctl.apply import ApplyEvent
from kbctl.apply.events import event_name
from kbctl.snapshots.catalog import CONTENTS_FILE, INDEX_FILE
from kbctl.snapshots.record import IN_PROGRESS, Snapshot, SnapshotKind
from kbctl.snapshots.store import SnapshotStore
from tests.snapshots.kit import Bench, text_of


class FreezeAt:
    """Copies the snapshot folder when a given event happens (the state a kill would leave)."""

    def __init__(self, source: Path, dest: Path, event: str, nth: int = 1) -> None:
        self.source, self.dest, self.event, self.nth = source, dest, event, nth
        self.seen = 0

    def __call__(self, event: ApplyEvent) -> None:
        if event_name(event) == self.event:
            self.seen += 1
            if self.seen == self.nth:
                # Blobs are written in the background: a temporary file may be renamed while
                # the folder is copied. A kill would leave it, and every reader ignores it.
                shutil.copytree(self.source, self.dest, ignore=shutil.ignore_patterns(".*.tmp"))


def _frozen(dest: Path) -> list[Snapshot]:
    store = SnapshotStore(dest)
    listed = store.list("staging")
    assert all(item.snapshot is not None for item in listed), [i.error for i in listed]
    for item in listed:
        json.loads(item.path.read_text())  # valid JSON, every file
    return [item.snapshot for item in listed if item.snapshot is not None]


def test_killed_while_uploading(bench: Bench, tmp_path: Path) -> None:
    bench.manifest({"a": text_of("a")})
    bench.apply()
    bench.manifest({"a": text_of("a2"), "b": text_of("b"), "c": text_of("c")})
    dest = tmp_path / "frozen"
    result, _ = bench.apply(events=FreezeAt(bench.store.root, dest, "document_created", nth=2))
    snapshots = _frozen(dest)
    newest = snapshots[0]
    assert newest is not None
    assert newest.kind is SnapshotKind.AFTER and newest.outcome == IN_PROGRESS
    assert len(newest.done.created) == 2
    assert set(newest.done.created) <= {d.id for d in result.created}
    assert not newest.done.agent_updated
    before = snapshots[1]
    assert before.kind is SnapshotKind.BEFORE and before.outcome == "pending"
    # The agent was not touched yet: the checkpoint still records the "before" array.
    assert newest.knowledge_base == before.knowledge_base
    assert newest.apply_id == before.id


def test_killed_while_deleting_after_the_swap(bench: Bench, tmp_path: Path) -> None:
    bench.manifest({"a": text_of("a"), "b": text_of("b")})
    bench.apply()
    bench.manifest({"a": text_of("a2")})
    dest = tmp_path / "frozen"
    result, _ = bench.apply(events=FreezeAt(bench.store.root, dest, "document_deleted"))
    newest = _frozen(dest)[0]
    assert newest is not None
    assert newest.outcome == IN_PROGRESS
    assert newest.done.agent_updated
    assert len(newest.done.deleted) == 1
    assert newest.changed
    assert newest.knowledge_base is not None
    kb = {e.key: e for e in newest.knowledge_base}
    assert set(kb) == {"docs/a.md", "rules", "https://example.com/faq"}
    assert kb["docs/a.md"].id == result.ids_by_key["docs/a.md"]
    # After the run, only the final "after" remains (the checkpoint is replaced).
    final = bench.store.snapshots("staging")
    assert final[0].outcome == "applied"
    assert [s.outcome for s in final].count(IN_PROGRESS) == 0


_KILLER = """
import os, sys
from pathlib import Path
from kbctl.apply.events import AgentUpdated
from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorConfig
from tests.snapshots.kit import Bench, text_of

def kill(event):
    if isinstance(event, AgentUpdated):
        os._exit(137)  # like kill -9: no finally, no after hook

root = Path(sys.argv[1])
os.chdir(root)
bench = Bench(root, FakeClock(), EmulatorConfig(index_seconds=3.0))
bench.manifest({"a": text_of("a")})
bench.apply()
bench.manifest({"a": text_of("a2"), "b": text_of("b")})
bench.apply(events=kill)
"""


def test_a_killed_process_leaves_valid_snapshots(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLER), str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 137, done.stderr
    store = SnapshotStore(root / "state-snapshots")
    listed = store.list("staging")
    assert [item.error for item in listed] == [None] * 4
    leftovers = [p.name for p in (root / "state-snapshots" / "staging").iterdir()]
    assert not [
        name
        for name in leftovers
        if name.startswith(".") and name not in (INDEX_FILE, CONTENTS_FILE)
    ]
    newest = store.snapshots("staging")[0]
    assert newest.kind is SnapshotKind.AFTER and newest.outcome == IN_PROGRESS
    assert newest.done.agent_updated and len(newest.done.created) == 2
    assert {e.key for e in newest.knowledge_base or ()} == {
        "docs/a.md",
        "docs/b.md",
        "rules",
        "https://example.com/faq",
    }
    # `previous` already knows this run changed the agent.
    assert store.resolve("previous", "staging").apply_id == newest.apply_id
