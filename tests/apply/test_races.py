"""Races with other writers: what apply compares, when it reads again, and how a lost race ends.

Each test puts the other writer exactly between two requests of the run under test (see
`interleave.py`): a person editing the agent, a server rewriting names, a parallel deletion.
"""

from __future__ import annotations

import pytest

from kbctl.apply import ApplyOptions, ApplyResult, RecordingEvents, apply_agent_plan
from kbctl.apply.events import DocumentKept
from kbctl.errors import ConcurrentChangeError, ExitCode
from kbctl.model import Target
from kbctl.plan.planner import plan_target
from kbctl.provider.elevenlabs import ElevenLabsProvider
from tests.apply.conftest import Workspace, docs
from tests.apply.interleave import interleaved_provider

AGENT_PATH = r"^/v1/convai/agents/agent_1$"
DOC_PATH = r"^/v1/convai/knowledge-base/[^/]+$"
DEPENDENTS_PATH = r"^/v1/convai/knowledge-base/[^/]+/dependent-agents$"


def run(
    ws: Workspace, provider: ElevenLabsProvider, target: Target, events: RecordingEvents
) -> ApplyResult:
    """Plan and apply `target` through `provider` (another client of the same emulator)."""
    live = provider.read_state(target.agent_id, target.project, target.environment)
    return apply_agent_plan(
        plan_target(target, live),
        target,
        provider,
        ws.clock,
        events=events,
        options=ApplyOptions(),
    )


def _someone_empties_the_agent(ws: Workspace) -> None:
    ws.world.set_knowledge_base(ws.agent_id, [])


def test_a_write_landing_right_after_the_patch_is_a_lost_race_exit_4(ws: Workspace) -> None:
    ws.apply(ws.target(docs(3)))
    provider, layer = interleaved_provider(ws)
    layer.after("PATCH", AGENT_PATH, lambda _: _someone_empties_the_agent(ws))
    with pytest.raises(ConcurrentChangeError) as info:
        run(ws, provider, ws.target(docs(3, version=1)), RecordingEvents())
    err = info.value
    assert err.exit_code == ExitCode.STALE  # never 1 ("read back ... not what kbctl wrote")
    assert "after kbctl updated it" in err.summary
    assert "was committed as" in (err.detail or "")  # who wrote the live version
    assert "won the race" in (err.hint or "")
    assert ws.agent_ids() == []  # the other writer's state stands; kbctl did not fight back


def test_the_patch_answer_is_verified_without_reading_the_agent_again(ws: Workspace) -> None:
    ws.apply(ws.target(docs(2)))
    old = set(ws.agent_ids())
    provider, layer = interleaved_provider(ws)
    result = run(ws, provider, ws.target(docs(2, version=1)), RecordingEvents())
    assert result.agent_updated
    patch = layer.log.index(("PATCH", "/v1/convai/agents/agent_1"))
    after = [m for m, p in layer.log[patch + 1 :] if p == "/v1/convai/agents/agent_1"]
    assert after == ["GET"]  # only the final check after the deletions, no read-back GET
    deletes = [i for i, (m, p) in enumerate(layer.log) if m == "DELETE" and p.split("/")[-1] in old]
    final = max(i for i, e in enumerate(layer.log) if e == ("GET", "/v1/convai/agents/agent_1"))
    assert deletes and final > max(deletes)  # the final check comes after the deletions


def test_names_the_server_rewrites_in_the_array_are_no_change(ws: Workspace) -> None:
    first = ws.target(docs(2))
    ws.apply(first)
    provider, layer = interleaved_provider(ws)

    def rename_in_array(_: str) -> None:
        agent = ws.world.agent(ws.agent_id)
        assert agent is not None
        renamed = [
            {**e, "name": f"{e['name']} (renamed by the server)"} for e in agent.knowledge_base
        ]
        ws.world.set_knowledge_base(ws.agent_id, renamed)

    # Between the plan's read and the concurrent-change check, only names change.
    layer.before("POST", r"/rag-index$", rename_in_array)
    result = run(ws, provider, ws.target(docs(3)), RecordingEvents())
    assert result.agent_updated
    ws.assert_converged(ws.target(docs(3)))


@pytest.mark.parametrize("first_call", [DEPENDENTS_PATH, DOC_PATH])
def test_a_document_already_deleted_by_someone_else_counts_as_deleted(
    ws: Workspace, first_call: str
) -> None:
    ws.apply(ws.target(docs(3)))
    old = ws.agent_ids()
    provider, layer = interleaved_provider(ws)
    method = "GET" if first_call == DEPENDENTS_PATH else "DELETE"

    def parallel_delete(path: str) -> None:
        doc_id = path.split("/")[4]
        ws.world.delete_document(doc_id, force=True)

    layer.before(method, first_call, parallel_delete)
    events = RecordingEvents()
    result = run(ws, provider, ws.target(docs(3, version=1)), events)
    assert sorted(d.id for d in result.deleted) == sorted(old)
    assert not result.kept and not result.warnings
    assert not events.of(DocumentKept)
    ws.assert_converged(ws.target(docs(3, version=1)))
