"""Where a plan's content diffs come from: a matching local snapshot blob before the API, the API
for the rest (only for replaced text documents), nothing at all with `diff=False`."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbctl import commands
from kbctl.clock import FakeClock
from kbctl.commands import Session
from kbctl.plan.types import ReplaceDocument
from tests.cli.test_plan_cli import write_project

CONTENT_READ = "GET /v1/convai/knowledge-base/{documentation_id}/content"


@pytest.fixture
def session(tmp_path: Path) -> Session:
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 3)
    url = f"emulator://{tmp_path}/emu?index_seconds=0"
    made = Session(FakeClock(), environ={"ELEVENLABS_BASE_URL": url}, cwd=tmp_path)
    commands.apply(made, "local", auto_approve=True)
    path = tmp_path / "manifests/alpha/d01.md"
    path.write_text(path.read_text().replace("parking", "underground parking", 1))
    return made


def content_reads(session: Session) -> int:
    (app,) = session.emulators.values()
    return app.world.calls[CONTENT_READ]


def diff_of(run: commands.PlanRun) -> str | None:
    (change,) = [c for c in run.plan.agents[0].changes if isinstance(c, ReplaceDocument)]
    return change.diff


def test_a_snapshot_blob_that_matches_saves_the_content_read(session: Session) -> None:
    before = content_reads(session)
    diff = diff_of(commands.plan(session, "local"))
    assert diff is not None and "+Flats from 45 to 120 m², underground parking" in diff
    assert content_reads(session) == before  # read from the apply's snapshot blob


def test_without_snapshots_only_the_replaced_document_is_read(
    session: Session, tmp_path: Path
) -> None:
    bare = Session(
        FakeClock(), environ=session.environ, cwd=tmp_path, snapshots_dir=Path("elsewhere")
    )
    bare.emulators.update(session.emulators)
    before = content_reads(bare)
    diff = diff_of(commands.plan(bare, "local"))
    assert diff is not None and "-Flats from 45 to 120 m², parking" in diff
    assert content_reads(bare) == before + 1


def test_no_diff_reads_nothing(session: Session, tmp_path: Path) -> None:
    bare = Session(
        FakeClock(), environ=session.environ, cwd=tmp_path, snapshots_dir=Path("elsewhere")
    )
    bare.emulators.update(session.emulators)
    before = content_reads(bare)
    assert diff_of(commands.plan(bare, "local", diff=False)) is None
    assert content_reads(bare) == before
