"""Saved plans (format 3) summarise unchanged documents; they still apply exactly, a stale one
is still refused, and a plan file of format 2 (every document listed) still applies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kbctl import commands
from kbctl.clock import FakeClock
from kbctl.commands import Session
from kbctl.emulator.workspace.world import World
from kbctl.errors import PlanFileError, StalePlanError
from kbctl.plan.planfile import dumps, plan_to_dict
from kbctl.plan.planjson import change_dict
from kbctl.plan.types import Plan
from tests.cli.test_plan_cli import write_project


def _session(tmp_path: Path) -> Session:
    url = f"emulator://{tmp_path}/emu?index_seconds=0"
    return Session(FakeClock(), environ={"ELEVENLABS_BASE_URL": url}, cwd=tmp_path)


def _world(session: Session) -> World:
    (app,) = session.emulators.values()
    return app.world


def _one_changed(tmp_path: Path) -> tuple[Session, Plan]:
    """Five documents applied, then one edited: the plan replaces one and keeps four."""
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 5)
    session = _session(tmp_path)
    commands.apply(session, "local", auto_approve=True)
    (tmp_path / "manifests/alpha/d03.md").write_text("# changed\n\n" + "New prices. " * 60)
    plan = commands.plan(session, "local").plan
    assert (plan.summary.replace, plan.summary.noop) == (1, 4)
    return session, plan


def test_a_saved_plan_lists_only_changes_and_still_applies(tmp_path: Path) -> None:
    session, plan = _one_changed(tmp_path)
    saved = tmp_path / "plan.json"
    saved.write_text(dumps(plan))
    data = json.loads(saved.read_text())
    assert data["format_version"] == 3
    assert [c["action"] for c in data["changes"]] == ["replace"]
    assert data["summary"]["noop"] == 4 and data["agents"][0]["unlisted"]["noop"] == 4
    assert "knowledge_base" not in data["agents"][0]

    run = commands.apply(session, "local", plan_file=saved)
    assert run.summary.startswith("1 replaced")
    assert run.plan.summary.noop == 4  # the plan applied is whole again
    assert not commands.plan(session, "local").plan.has_changes
    agent = _world(session).agent("agent_alpha")
    assert agent is not None and len(agent.knowledge_base) == 5


def test_a_stale_saved_plan_is_refused(tmp_path: Path) -> None:
    session, plan = _one_changed(tmp_path)
    saved = tmp_path / "plan.json"
    saved.write_text(dumps(plan))
    # A kept document (one the file does not list) deleted out of band: the live state moved.
    world = _world(session)
    kept = next(d for d in world.documents() if d.name.startswith("alpha/d01.md"))
    world.delete_document(kept.id, force=True)
    with pytest.raises(StalePlanError) as info:
        commands.apply(session, "local", plan_file=saved)
    assert "live knowledge base changed" in (info.value.detail or "")


def test_the_summary_of_unchanged_documents_is_checked(tmp_path: Path) -> None:
    session, plan = _one_changed(tmp_path)
    data = json.loads(dumps(plan))
    data["agents"][0]["unlisted"]["noop_digest"] = "0" * 64  # not what is kept now
    saved = tmp_path / "plan.json"
    saved.write_text(json.dumps(data))
    with pytest.raises(StalePlanError) as info:
        commands.apply(session, "local", plan_file=saved)
    assert "manifest changed" in (info.value.detail or "")
    data["format_version"] = 4
    saved.write_text(json.dumps(data))
    with pytest.raises(PlanFileError) as refused:
        commands.apply(session, "local", plan_file=saved)
    assert "Unknown plan format version: 4" in refused.value.summary
    assert "kbctl plan" in (refused.value.hint or "")


def _format_2(plan: Plan) -> str:
    """The plan as kbctl wrote it before format 3: every change and the whole array listed."""
    data: dict[str, Any] = plan_to_dict(plan)
    data["format_version"] = 2
    data["changes"] = [change_dict(a, c) for a in plan.agents for c in a.changes]
    for out, agent in zip(data["agents"], plan.agents, strict=True):
        del out["unlisted"]
        out["knowledge_base"] = [
            {
                "key": e.key,
                "id": e.id,
                "name": e.name,
                "doc_type": e.doc_type.value,
                "usage_mode": e.usage_mode.value,
            }
            for e in agent.knowledge_base
        ]
    return json.dumps(data, sort_keys=True, indent=2)


def test_a_plan_file_of_format_2_still_applies(tmp_path: Path) -> None:
    session, plan = _one_changed(tmp_path)
    saved = tmp_path / "plan.json"
    saved.write_text(_format_2(plan))
    assert sum(c["action"] == "noop" for c in json.loads(saved.read_text())["changes"]) == 4
    run = commands.apply(session, "local", plan_file=saved)
    assert run.summary.startswith("1 replaced")
    assert not commands.plan(session, "local").plan.has_changes
