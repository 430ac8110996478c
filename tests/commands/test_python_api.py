"""`kbctl.commands` from Python: the whole gated apply with snapshots, no CLI, no patching."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbctl import commands
from kbctl.clock import FakeClock
from kbctl.commands import Session
from kbctl.errors import IndexGateError, PolicyError
from tests.cli.test_plan_cli import write_project


@pytest.fixture
def session(tmp_path: Path) -> Session:
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 3)
    url = f"emulator://{tmp_path}/emu?index_seconds=4"
    return Session(FakeClock(), environ={"ELEVENLABS_BASE_URL": url}, cwd=tmp_path)


def test_plan_apply_status_snapshots_and_rollback_from_python(
    session: Session, tmp_path: Path
) -> None:
    first = commands.plan(session, "local")
    assert first.plan.summary.create == 3
    assert commands.plan_verdict(first.plan) is None

    run = commands.apply(session, "local", auto_approve=True)
    assert not run.cancelled
    assert run.summary.startswith("3 created")
    (result,) = run.results
    assert len(result.created) == 3 and len(result.indexed) == 3
    assert run.snapshots and (tmp_path / "state-snapshots" / "local").is_dir()

    again = commands.plan(session, "local")
    assert not again.plan.has_changes
    (status,) = commands.status(session, "local")
    assert not status.has_changes
    assert [s.id for s in commands.list_snapshots(session, "local") if s.error is None]

    (tmp_path / "manifests/alpha/d00.md").write_text("# changed\n\n" + "New prices. " * 60)
    assert commands.apply(session, "local", auto_approve=True).summary.startswith("1 replaced")
    back = commands.rollback(session, "local", "previous", auto_approve=True)
    assert back.summary.startswith("1 replaced")
    shown = commands.show_snapshot(session, back.snapshots[0])
    assert shown.snapshot.operation == "rollback" and shown.restorable


def test_commands_refuse_without_confirmation_and_raise_the_error_tree(
    session: Session, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match="without confirmation"):
        commands.apply(session, "local")
    asked: list[str] = []

    def decline(question: str) -> bool:
        asked.append(question)
        return False

    session.confirm = decline
    assert commands.apply(session, "local").cancelled
    assert asked == ["Apply these changes?"]
    manifest = tmp_path / "manifests/alpha.yaml"
    manifest.write_text(
        manifest.read_text().replace("documents:", "policy:\n  small_documents: fail\ndocuments:")
    )
    (tmp_path / "manifests/alpha/tiny.md").write_text("# tiny\n")
    with pytest.raises(IndexGateError):
        commands.apply(session, "local", auto_approve=True)
    verdict = commands.plan_verdict(commands.plan(session, "local").plan)
    assert verdict is not None and verdict.exit_code == 1
    assert not isinstance(verdict, PolicyError)
