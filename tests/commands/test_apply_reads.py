"""What one apply reads: the workspace is listed once (by the plan), never again by the executor."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbctl import commands
from kbctl.clock import FakeClock
from kbctl.commands import Session
from kbctl.emulator.workspace.world import World
from kbctl.errors import StalePlanError
from kbctl.plan.planfile import dumps
from tests.cli.test_plan_cli import write_project
from tests.jsonview import view

LIST = "GET /v1/convai/knowledge-base"


def _world(session: Session) -> World:
    (app,) = session.emulators.values()
    return app.world


def test_an_apply_lists_the_workspace_once_and_its_after_snapshot_is_still_true(
    tmp_path: Path,
) -> None:
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 3)
    url = f"emulator://{tmp_path}/emu?index_seconds=2"
    session = Session(FakeClock(), environ={"ELEVENLABS_BASE_URL": url}, cwd=tmp_path)
    commands.apply(session, "local", auto_approve=True)
    world = _world(session)
    for i in range(1000):  # not ours: the listing spans ten pages, a name search one
        world.add_document("text", f"other {i}", f"unrelated {i}")

    listed = world.calls[LIST]
    commands.plan(session, "local")
    one_listing = world.calls[LIST] - listed
    assert one_listing >= 10

    (tmp_path / "manifests/alpha/d00.md").write_text("# changed\n\n" + "New prices. " * 60)
    listed = world.calls[LIST]
    run = commands.apply(session, "local", auto_approve=True)
    assert run.summary.startswith("1 replaced")
    during_apply = world.calls[LIST] - listed
    # The plan's own listing plus the lease's listings of folders (a page each); no listing
    # for the fingerprint check, none for the "after" snapshot, none of documents for the lease.
    assert during_apply < one_listing + 5

    (row,) = [s for s in commands.list_snapshots(session, "local") if s.id == run.snapshots[0]]
    after = commands.show_snapshot(session, row.id).snapshot
    agent = world.agent("agent_alpha")
    assert agent is not None and after.knowledge_base is not None
    assert sorted(e.id for e in after.knowledge_base) == sorted(
        view(e).text("id") for e in agent.knowledge_base
    )
    assert all(e.managed and e.blob for e in after.knowledge_base)
    assert not commands.plan(session, "local").plan.has_changes


def test_a_saved_plan_still_gets_the_full_fingerprint_check(tmp_path: Path) -> None:
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 2)
    url = f"emulator://{tmp_path}/emu?index_seconds=0"
    session = Session(FakeClock(), environ={"ELEVENLABS_BASE_URL": url}, cwd=tmp_path)
    made = commands.plan(session, "local")
    assert made.plan.summary.create == 2
    (tmp_path / "plan.json").write_text(dumps(made.plan))
    # A document of this environment appears after the plan was saved: only a listing sees it.
    _world(session).add_document("text", "stray · kbctl:alpha/local · 0123456789ab", "x")
    with pytest.raises(StalePlanError):
        commands.apply(session, "local", plan_file=tmp_path / "plan.json")


def test_a_rollback_lists_the_workspace_once(tmp_path: Path) -> None:
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 2)
    url = f"emulator://{tmp_path}/emu?index_seconds=0"
    session = Session(FakeClock(), environ={"ELEVENLABS_BASE_URL": url}, cwd=tmp_path)
    commands.apply(session, "local", auto_approve=True)
    world = _world(session)
    for i in range(1000):
        world.add_document("text", f"other {i}", f"unrelated {i}")
    (tmp_path / "manifests/alpha/d00.md").write_text("# changed\n\n" + "New prices. " * 60)
    commands.apply(session, "local", auto_approve=True)
    listed = world.calls[LIST]
    commands.plan(session, "local")
    one_listing = world.calls[LIST] - listed
    assert one_listing >= 10

    listed = world.calls[LIST]
    back = commands.rollback(session, "local", "previous", auto_approve=True)
    assert back.summary.startswith("1 replaced")
    assert world.calls[LIST] - listed < one_listing + 5  # the rollback plan's listing only
