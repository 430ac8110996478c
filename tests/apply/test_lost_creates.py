"""Creates whose answer was lost: retried, ledgered, and their extra copies found once per run.

Through the real provider and client against the emulator: `fail_after_write_rate` makes writes
land and answers get lost (extra copies exist); `fail_rate` loses answers before the write (no
copy exists, and looking for them must not cost a list request per failure).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import pytest

from kbctl.apply.events import ExtraCopyDeleted, Finished
from kbctl.identity import parse_marker
from kbctl.model import Target
from tests.apply.conftest import ENV, Workspace, WorkspaceFactory, docs
from tests.apply.test_interrupts import Crash, CrashAt

CREATE_TEXT = "POST /v1/convai/knowledge-base/text"
LIST = "GET /v1/convai/knowledge-base"


def names(ws: Workspace) -> Counter[str]:
    """How many documents carry each kbctl name."""
    return Counter(d.name for d in ws.world.documents() if parse_marker(d.name) is not None)


def test_copies_that_landed_are_deleted_in_the_same_run(make_workspace: WorkspaceFactory) -> None:
    ws = make_workspace(fail_after_write_rate=0.3, seed=5)
    target = ws.target(docs(20))
    result = ws.apply(target)
    uploads = ws.calls(CREATE_TEXT)
    assert uploads > 20, "the seed must lose some answers"
    # Every POST wrote a document; all but the 20 kept were extra, and all were deleted.
    assert len(result.extra_copies) == uploads - 20
    assert set(names(ws).values()) == {1} and len(names(ws)) == 20
    managed = {d.id for d in ws.world.documents() if parse_marker(d.name) is not None}
    assert managed == {c.id for c in result.created}
    assert {c.id for c in result.created}.isdisjoint(d.id for d in result.extra_copies)
    deleted = ws.events.of(ExtraCopyDeleted)
    assert [(e.key, e.doc_id) for e in deleted] == [(d.key, d.id) for d in result.extra_copies]
    summary = ws.events.of(Finished)[-1].summary
    assert f"{len(result.extra_copies)} extra copies of lost creates deleted" in summary
    ws.assert_converged(target)  # one document per key, all indexed, no orphan left


def test_lost_answers_before_the_write_cost_no_list_page_per_failure(
    make_workspace: WorkspaceFactory,
) -> None:
    """10 % of requests answer 5xx before writing: nothing landed, and finding that out costs
    at most a walk of the documents created since the first loss (a page per 100), not a list
    request per lost create."""
    n = 300
    clean = make_workspace()
    clean.apply(clean.target(docs(n)))
    fault_free = clean.calls(LIST)
    ws = make_workspace(fail_rate=0.1, seed=3)
    target = ws.target(docs(n))
    result = ws.apply(target)
    lost = ws.calls(CREATE_TEXT) - n  # every failed POST was retried: one lost answer each
    assert lost >= 15, "the seed must lose some answers"
    assert result.extra_copies == ()
    extra_lists = ws.calls(LIST) - fault_free
    pages = math.ceil((n + lost) / 100) + 3  # the walk, the page past the window, slack
    assert extra_lists <= 2 * pages  # each page may itself be answered 5xx once and retried
    assert extra_lists < lost / 2
    ws.assert_converged(target)


def test_a_run_killed_before_reconciling_converges_on_the_next_apply(
    make_workspace: WorkspaceFactory,
) -> None:
    ws = make_workspace(fail_after_write_rate=0.3, seed=5)
    target = ws.target(docs(12))
    with pytest.raises(Crash):  # at the last upload: the copies were never looked for
        ws.apply(target, events=CrashAt("document_created", 12))
    copies = sum(names(ws).values())
    assert copies > 12, "the seed must leave extra copies"
    assert ws.agent_ids() == []
    ws.world.config = replace(ws.world.config, fail_after_write_rate=0.0)
    plan = ws.plan(target)  # one copy per key reused, every other one an orphan
    assert sum(c.reuse_id is not None for c in plan.changes) == 12
    assert [d.reason for d in plan.deletions] == ["orphan"] * (copies - 12)
    uploads = ws.calls(CREATE_TEXT)
    ws.apply(target, plan=plan)
    assert ws.calls(CREATE_TEXT) == uploads  # nothing uploaded again
    ws.assert_converged(target)
    assert all(n == 1 for n in names(ws).values())
    assert sum(names(ws).values()) == 12


def test_a_copy_the_run_missed_is_deleted_by_the_next_plan(ws: Workspace) -> None:
    """A copy that landed where reconciliation did not see it (the name search can miss a
    document) is an unattached managed document of the environment: the next plan deletes it,
    and never the attached one of the same name."""
    target = ws.target(docs(3))
    ws.apply(target)
    attached = ws.agent_ids()
    kept = ws.world.document(attached[0])
    assert kept is not None
    missed = ws.world.add_document("text", kept.name, "# quarters/q000.md\n\nsame content")
    plan = ws.plan(target)
    assert [(d.id, d.reason) for d in plan.deletions] == [(missed, "orphan")]
    ws.apply(target, plan=plan)
    assert ws.world.document(missed) is None
    assert ws.agent_ids() == attached
    ws.assert_converged(target)


def test_reconciliation_never_touches_another_environments_documents(
    make_workspace: WorkspaceFactory,
) -> None:
    """Production reuses staging's copies of 6 documents (shared) and uploads 24 of its own
    with lost answers: only production's extra copies go; staging's documents all stay. (The
    order in which threads draw the faults varies, so enough creates that one surely loses its
    answer: 0.6^24 < 1e-5.)"""
    ws = make_workspace(fail_after_write_rate=0.0, seed=5)
    shared = docs(6, "shared/s")
    staging = ws.target(shared)
    ws.apply(staging)
    kept = set(ws.agent_ids())
    ws.world.config = replace(ws.world.config, fail_after_write_rate=0.4)
    production = _production(ws.target((*shared, *docs(24, "own/o"))))
    result = ws.apply(production)
    assert result.extra_copies, "the seed must leave extra copies"
    assert {r.id for r in result.reused} == kept  # the shared copies, reused as they are
    assert kept.isdisjoint(d.id for d in result.extra_copies)
    assert set(ws.agent_ids()) == kept  # staging's agent still holds every one
    assert all(ws.world.document(i) is not None for i in kept)
    ws.assert_converged(production)


def _production(target: Target) -> Target:
    assert target.environment == ENV
    return replace(target, environment="production", agent_id="agent_2")
