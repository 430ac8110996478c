"""Planner case files: `cases/*.yaml` hold target + live state + the expected plan.

Adding a behaviour is adding a file; the review diff is the behaviour change. Expectations
only check what they list (changes are compared field by field for the fields given).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kbctl.plan.planfile import dumps, loads, unlisted
from kbctl.plan.planner import make_plan, plan_target
from kbctl.plan.types import AgentPlan, DocumentChange
from tests.plan.builders import full_hash, load_case
from tests.plan.conftest import case_paths

_CHANGE_ATTRS = (
    "live_id",
    "reuse_id",
    "needs_index",
    "usage_mode",
    "doc_type",
    "size_bytes",
    "reason",
    "index_status",
)


@pytest.mark.parametrize("path", case_paths(), ids=lambda p: p.stem)
def test_case(path: Path) -> None:
    case = load_case(path)
    plan = plan_target(case.target, case.live)
    expect = case.expect
    if "changes" in expect:
        _check_changes(plan, expect["changes"])
    if "deletions" in expect:
        actual = [{"id": d.id, "reason": d.reason} for d in plan.deletions]
        assert actual == [{"id": d["id"], "reason": d["reason"]} for d in expect["deletions"]]
    if "knowledge_base" in expect:
        _check_array(plan, expect["knowledge_base"])
    if "findings" in expect:
        assert [f"{f.severity.value} {f.code}" for f in plan.findings] == expect["findings"]
    if "finding_places" in expect:
        assert [[f.file, f.line] for f in plan.findings] == expect["finding_places"]
    for text in expect.get("finding_messages", ()):
        assert any(text in f.message for f in plan.findings), (text, plan.findings)
    if "summary" in expect:
        counts = {k: 0 for k in ("create", "replace", "update", "delete", "noop", "reindex")}
        counts.update(expect["summary"])
        s = plan.summary
        actual_counts = (s.create, s.replace, s.update, s.delete, s.noop, s.reindex)
        assert actual_counts == tuple(counts.values())
    if "orphans" in expect:
        assert [{"id": o.id, "fate": o.fate} for o in plan.orphans] == expect["orphans"]
    if "unmanaged" in expect:
        assert [e.id for e in plan.unmanaged] == expect["unmanaged"]
    if "rag_changes" in expect:
        actual_rag = [[r.field, r.before, r.after] for r in plan.rag_changes]
        assert actual_rag == expect["rag_changes"]
    if "embedding_model" in expect:
        assert plan.embedding_model == expect["embedding_model"]
    if "has_changes" in expect:
        assert plan.has_changes is expect["has_changes"]
    if "cleanup" in expect:
        assert [d.id for d in plan.cleanup] == expect["cleanup"]
    # Every case also round-trips through the plan file, byte for byte (unchanged documents
    # summarised, as format 3 writes them).
    whole = make_plan(case.target.environment, [(case.target, case.live)])
    assert loads(dumps(whole)) == unlisted(whole)
    assert dumps(loads(dumps(whole))) == dumps(whole)


def _check_changes(plan: AgentPlan, expected: list[dict[str, Any]]) -> None:
    actual = [(c.action.value, c.key) for c in plan.changes]
    assert actual == [(e["action"], e["key"]) for e in expected]
    for change, want in zip(plan.changes, expected, strict=True):
        for attr in _CHANGE_ATTRS:
            if attr in want:
                assert getattr(change, attr) == want[attr], (change.key, attr)
        if "fields" in want:
            assert _fields(change) == {k: list(v) for k, v in want["fields"].items()}, change.key
        if "hash" in want:
            assert change.content_hash == full_hash(want["hash"])
        if "notes" in want:
            for text in want["notes"]:
                assert any(text in note for note in change.notes), (change.key, change.notes)


def _fields(change: DocumentChange) -> dict[str, list[str | None]]:
    return {f.field: [f.before, f.after] for f in change.fields}


def _check_array(plan: AgentPlan, expected: list[dict[str, Any]]) -> None:
    assert len(plan.knowledge_base) == len(expected), plan.knowledge_base
    for entry, want in zip(plan.knowledge_base, expected, strict=True):
        assert entry.id == want.get("id"), entry
        assert entry.key == want.get("key"), entry
        if "usage" in want:
            assert entry.usage_mode.value == want["usage"], entry
        if "name" in want:
            assert entry.name == want["name"], entry
