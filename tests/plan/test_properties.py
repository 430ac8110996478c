"""Planner properties over generated targets and live states (hypothesis).

`simulate_apply` is a small pure stand-in for apply: it does exactly what the plan says
(create or reuse, rename in place, write the array, delete, set RAG) and nothing else.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kbctl.identity import parse_marker
from kbctl.model import KbEntry, LiveDocument, LiveState, Target, UsageMode
from kbctl.plan.planfile import dumps, loads, unlisted
from kbctl.plan.planner import make_plan, plan_target
from kbctl.plan.types import Action, AgentPlan
from tests.plan.strategies import ENVIRONMENT, PROJECT, scenarios

Scenario = tuple[Target, LiveState]


def simulate_apply(target: Target, live: LiveState, plan: AgentPlan) -> LiveState:
    """The live state after a successful apply of `plan`."""
    docs = {d.id: d for d in live.documents}
    created: dict[str, str] = {}
    for change in plan.changes:
        match change.action:
            case Action.CREATE | Action.REPLACE:
                assert change.name is not None
                if change.reuse_id is not None:
                    assert docs[change.reuse_id].name == change.name
                    created[change.key] = change.reuse_id
                else:
                    new_id = f"new-{len(created):03d}"
                    docs[new_id] = LiveDocument(
                        new_id,
                        change.name,
                        change.doc_type,
                        change.size_bytes or 0,
                        parse_marker(change.name),
                    )
                    created[change.key] = new_id
            case Action.UPDATE | Action.NOOP:
                assert change.live_id is not None and change.name is not None
                old = docs[change.live_id]
                docs[change.live_id] = dataclasses.replace(
                    old, name=change.name, marker=parse_marker(change.name)
                )
            case Action.DELETE:
                pass
    for deletion in plan.deletions:
        del docs[deletion.id]
    entries = tuple(
        KbEntry(e.id if e.id is not None else created[str(e.key)], e.name, e.doc_type, e.usage_mode)
        for e in plan.knowledge_base
    )
    managed: dict[str, Any] = dict(target.rag.items())
    rag = dataclasses.replace(live.agent.rag, **managed)
    agent = dataclasses.replace(live.agent, knowledge_base=entries, rag=rag)
    return LiveState(agent, tuple(sorted(docs.values(), key=lambda d: d.id)), live.quota)


def _first_of_each(entries: Iterable[KbEntry]) -> tuple[KbEntry, ...]:
    """The entries with each id at its first position only."""
    seen: set[str] = set()
    out = []
    for entry in entries:
        if entry.id not in seen:
            seen.add(entry.id)
            out.append(entry)
    return tuple(out)


@settings(max_examples=300)
@given(scenarios())
def test_apply_then_replan_is_a_noop(scenario: Scenario) -> None:
    target, live = scenario
    plan = plan_target(target, live)
    after = simulate_apply(target, live, plan)
    again = plan_target(target, after)
    assert [c.action for c in again.changes] == [Action.NOOP] * len(again.changes)
    assert not any(c.needs_index for c in again.changes)
    assert again.rag_changes == ()
    assert again.deletions == ()
    assert not again.has_changes
    assert [(e.key, e.name, e.usage_mode) for e in again.knowledge_base] == [
        (e.key, e.name, e.usage_mode) for e in plan.knowledge_base
    ]
    assert [e.id for e in again.knowledge_base] == [e.id for e in after.agent.knowledge_base]


@given(scenarios())
def test_a_plan_without_changes_changes_nothing(scenario: Scenario) -> None:
    target, live = scenario
    plan = plan_target(target, live)
    if not plan.has_changes:
        after = simulate_apply(target, live, plan)
        # Only an unmanaged id attached twice is tidied without a change (a warning says so),
        # and orphans are deleted (pending cleanup is not a change).
        assert after.agent.knowledge_base == _first_of_each(live.agent.knowledge_base)
        cleanup = {d.id for d in plan.cleanup}
        assert after.documents == tuple(d for d in live.documents if d.id not in cleanup)


@given(scenarios())
def test_unmanaged_documents_are_never_touched(scenario: Scenario) -> None:
    target, live = scenario
    plan = plan_target(target, live)

    def managed(name: str) -> bool:
        marker = parse_marker(name)
        return marker is not None and marker.project == PROJECT

    def another_environments(name: str) -> bool:
        marker = parse_marker(name)
        return marker is not None and marker.environment not in (None, ENVIRONMENT)

    foreign = {d.id for d in live.documents if not managed(d.name)}
    assert not foreign & {d.id for d in plan.deletions}
    touched = {c.live_id for c in plan.changes} | {c.reuse_id for c in plan.changes}
    assert not foreign & touched
    # The project's environments share documents: another environment's may be reused (never
    # changed), and is deleted only once this agent held it (apply asks who else uses it).
    attached = {e.id for e in live.agent.knowledge_base}
    theirs = {d.id for d in live.documents if another_environments(d.name)} - attached
    assert not theirs & {d.id for d in plan.deletions}
    assert not theirs & {c.live_id for c in plan.changes}
    kept = _first_of_each(e for e in live.agent.knowledge_base if e.id in foreign)
    written = [
        (e.id, e.name, e.doc_type, e.usage_mode) for e in plan.knowledge_base if e.key is None
    ]
    assert written == [(e.id, e.name, e.doc_type, e.usage_mode) for e in kept]
    assert [e.id for e in plan.unmanaged] == [e.id for e in kept]


@given(scenarios(), st.randoms(use_true_random=False))
def test_planning_is_deterministic(scenario: Scenario, rnd: random.Random) -> None:
    target, live = scenario
    first = dumps(make_plan(ENVIRONMENT, [(target, live)]))
    assert dumps(make_plan(ENVIRONMENT, [(target, live)])) == first
    shuffled_docs = list(live.documents)
    rnd.shuffle(shuffled_docs)
    shuffled_specs = list(target.documents)
    rnd.shuffle(shuffled_specs)
    other = (
        dataclasses.replace(target, documents=tuple(shuffled_specs)),
        dataclasses.replace(live, documents=tuple(shuffled_docs)),
    )
    assert dumps(make_plan(ENVIRONMENT, [other])) == first


@given(st.lists(scenarios(), max_size=3))
def test_plan_files_round_trip(scenarios_: list[Scenario]) -> None:
    pairs = [
        (dataclasses.replace(t, manifest=f"manifests/m{i}.yaml"), live)
        for i, (t, live) in enumerate(scenarios_)
    ]
    plan = make_plan(ENVIRONMENT, pairs)
    text = dumps(plan)
    assert loads(text) == unlisted(plan)
    assert dumps(loads(text)) == text


@given(scenarios())
def test_the_array_is_consistent(scenario: Scenario) -> None:
    target, live = scenario
    plan = plan_target(target, live)
    ids = [e.id for e in plan.knowledge_base if e.id is not None]
    keys = [e.key for e in plan.knowledge_base if e.key is not None]
    assert len(ids) == len(set(ids))
    assert len(keys) == len(set(keys))
    assert not {d.id for d in plan.deletions} & set(ids)
    assert len({d.id for d in plan.deletions}) == len(plan.deletions)
    live_keys = [c.key for c in plan.changes if c.action is not Action.DELETE]
    assert sorted(keys) == sorted(live_keys)
    for change in plan.changes:
        fresh = change.action in (Action.CREATE, Action.REPLACE)
        if fresh and change.usage_mode is UsageMode.AUTO:
            assert change.needs_index
        if change.usage_mode is UsageMode.PROMPT or change.action is Action.DELETE:
            assert not change.needs_index
