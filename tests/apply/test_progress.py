"""The three drawings of apply's events, fed by a real apply on the FakeClock."""

from __future__ import annotations

import io
import json
from datetime import datetime
from itertools import pairwise

from rich.console import Console

from kbctl.cli.progress import JsonProgress, LiveProgress, PlainProgress, make_progress
from tests.apply.conftest import Workspace, WorkspaceFactory, docs


def test_plain_lines_are_timestamped_and_index_polls_print_on_change(ws: Workspace) -> None:
    out = io.StringIO()
    with PlainProgress(ws.clock, out) as progress:
        ws.apply(ws.target(docs(3)), events=progress)
        progress.run_finished("Apply complete", "3 created", 1.25)
    lines = out.getvalue().splitlines()
    assert all(line[:4] == "2026" and line[20:22] == "  " for line in lines)
    text = out.getvalue()
    assert "created quarters/q000.md" in text
    assert text.count("indexed quarters/q000.md") == 1
    assert "index gate passed: 3 document(s) indexed" in text
    assert lines[-1].endswith("Apply complete: 3 created in 1.2s")


def test_json_lines_carry_event_time_and_agent(ws: Workspace) -> None:
    out = io.StringIO()
    progress = JsonProgress(ws.clock, out)
    ws.apply(ws.target(docs(2)), events=progress)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events[0]["event"] == "plan_started" and events[0]["create"] == 2
    assert {e["agent_id"] for e in events} == {ws.agent_id}
    assert events[-1]["event"] == "finished"
    assert [e["status"] for e in events if e["event"] == "index_progress"][-1] == "succeeded"


def test_live_view_draws_on_a_terminal(ws: Workspace) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    first = docs(3)
    ws.apply(ws.target(first))
    with LiveProgress(ws.clock, console) as progress:
        ws.apply(ws.target(docs(3, version=1)), events=progress)
        progress.run_finished("Apply complete", "3 replaced, 3 deleted", 2.0)
    text = out.getvalue()
    assert "Apply complete" in text
    assert "deleted" in text and "attached" in text


def test_make_progress_picks_the_drawing(ws: Workspace) -> None:
    out = io.StringIO()
    assert isinstance(make_progress(ws.clock, out, as_json=True, tty=True), JsonProgress)
    assert isinstance(make_progress(ws.clock, out, as_json=False, tty=True), LiveProgress)
    assert isinstance(make_progress(ws.clock, out, as_json=False, tty=False), PlainProgress)


def test_plain_lines_keep_a_heartbeat_while_the_gate_waits(
    make_workspace: WorkspaceFactory,
) -> None:
    ws = make_workspace(index_seconds=90.0)
    out = io.StringIO()
    with PlainProgress(ws.clock, out) as progress:
        ws.apply(ws.target(docs(2)), events=progress)
    lines = out.getvalue().splitlines()
    beats = [line for line in lines if "still waiting for" in line]
    assert beats, out.getvalue()
    assert "still waiting for 2 index(es) (" in beats[0] and " s of 180 s)" in beats[0]
    stamps = [datetime.strptime(line[:20], "%Y-%m-%dT%H:%M:%SZ") for line in lines]
    gaps = [(b - a).total_seconds() for a, b in pairwise(stamps)]
    assert max(gaps) <= 15, gaps  # CI logs are never silent for long
