"""Retrieval checks inside `kbctl apply`, end to end through the real provider and the emulator:
a gate before the swap (abort or warn), a report after it, both in the "after" snapshot."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from kbctl.apply import ApplyOptions, ApplyResult, Phase, RecordingEvents, apply_agent_plan
from kbctl.apply.events import ApplyWarning, ChecksFinished, Finished, PhaseStarted
from kbctl.checks import ChecksReport, CheckStage
from kbctl.cli.progress import LiveProgress
from kbctl.errors import ApplyError, ExitCode, ServerError
from kbctl.plan.planner import plan_target
from tests.checks.conftest import DOCS, MORTGAGE_GONE, Bench

MORTGAGE_QUERY = "Какие банки дают семейную ипотеку?"
GONE = {**DOCS, "mortgage": MORTGAGE_GONE}


def after_snapshot(bench: Bench) -> dict[str, object]:
    """The newest "after" snapshot file of staging, as JSON."""
    folder = bench.root / "state-snapshots" / "staging"
    files = sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))  # no index
    data = [json.loads(p.read_text(encoding="utf-8")) for p in files]
    newest: dict[str, object] = [d for d in data if d["kind"] == "after"][-1]
    return newest


def test_checks_that_pass_let_apply_switch_the_agent(bench: Bench) -> None:
    bench.manifest(policy="checks_policy:\n  min_coverage: 1.0\n")
    events = RecordingEvents()
    result, _ = bench.apply(events)
    assert len(bench.kb_ids()) == 4
    before, after = result.checks_before_swap, result.checks
    assert before is not None and after is not None
    assert (before.passed, before.total, before.top1) == (4, 4, 4)
    assert (after.passed, after.total) == (4, 4)
    # The gate runs after the index gate and before the PATCH; the report after the swap last.
    names = events.names()
    stages = [e.stage for e in events.of(ChecksFinished)]
    assert stages == [CheckStage.BEFORE_SWAP, CheckStage.AFTER_SWAP]
    first, second = (i for i, n in enumerate(names) if n == "checks_finished")
    assert names.index("gate_passed") < first < names.index("agent_updated") < second
    assert PhaseStarted(Phase.CHECKS, 4) in events.of(PhaseStarted)
    (summary,) = [e.summary for e in events.of(Finished)]
    assert "; retrieval checks 4/4 passed (Coverage@1 100%)" in str(summary)
    snapshot = after_snapshot(bench)
    checks = snapshot["checks"]
    assert isinstance(checks, dict) and set(checks) == {"before_swap", "after_swap"}
    assert checks["after_swap"]["passed"] == 4 and checks["after_swap"]["meets"] is True
    (stored,) = [s for s in bench.store.snapshots("staging") if s.kind == "after"]
    assert stored.checks == {"before_swap": before, "after_swap": after}  # read back whole


def test_a_fact_that_disappears_stops_apply_at_the_gate(bench: Bench) -> None:
    bench.manifest(policy="checks_policy:\n  min_coverage: 0.8\n")
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    ids, versions = bench.kb_ids(), bench.version_count()
    documents = {d.id for d in bench.world.documents()}

    bench.manifest(docs=GONE, policy="checks_policy:\n  min_coverage: 0.8\n")  # facts edited out
    result = bench.run("apply", "-e", "staging", "--auto-approve")
    assert result.exit_code == ExitCode.INDEX_GATE, result.output
    out = result.output
    assert (
        "Error: Apply stopped at the retrieval checks for demo/staging (agent agent_staging): "
        "1 of 4 retrieval check(s) failed (Coverage@3 75% < min_coverage 80%)"
    ) in out
    assert (
        f"'{MORTGAGE_QUERY}': expected docs/mortgage.md (not in the top 3); retrieved nothing"
    ) in out
    assert "The agent was not changed; the 1 document(s) this run created were deleted" in out
    assert bench.kb_ids() == ids and bench.version_count() == versions  # agent unchanged
    assert {d.id for d in bench.world.documents()} == documents  # the upload was deleted
    snapshot = after_snapshot(bench)
    assert snapshot["outcome"] == "index_gate"
    gate = snapshot["checks"]["before_swap"]  # type: ignore[index]
    assert gate["meets"] is False and gate["passed"] == 3
    assert "after_swap" not in snapshot["checks"]  # type: ignore[operator]

    # The live agent still has the old mortgage document: there, the same checks pass. The gate
    # judged the documents the agent was about to have, not the ones it had.
    assert bench.run("check", "-e", "staging").exit_code == 0


def test_on_failure_warn_switches_and_reports(bench: Bench) -> None:
    policy = "checks_policy:\n  min_coverage: 0.8\n  on_failure: warn\n"
    bench.manifest(policy=policy)
    bench.apply()
    old_ids = set(bench.kb_ids())
    bench.manifest(docs=GONE, policy=policy)
    events = RecordingEvents()
    result, _ = bench.apply(events)
    assert set(bench.kb_ids()) != old_ids  # switched to the new document anyway
    warnings = [e.message for e in events.of(ApplyWarning)]
    assert any(
        w.startswith(
            "1 of 4 retrieval check(s) failed (Coverage@3 75% < min_coverage 80%); "
            "on_failure is warn, so the agent is switched anyway"
        )
        and MORTGAGE_QUERY in w
        for w in warnings
    ), warnings
    assert any(w.startswith("after the swap, 1 of 4") for w in warnings), warnings
    assert result.checks is not None and result.checks.passed == 3
    assert result.checks.failures[0].query == MORTGAGE_QUERY
    assert result.warnings and MORTGAGE_QUERY in result.warnings[-1]
    (summary,) = [e.summary for e in events.of(Finished)]
    assert "retrieval checks 3/4 passed (Coverage@1 75%)" in str(summary)
    snapshot = after_snapshot(bench)
    assert snapshot["outcome"] == "applied"
    assert snapshot["checks"]["after_swap"]["passed"] == 3  # type: ignore[index]


def test_warn_through_the_cli_prints_the_failing_query_and_the_summary(bench: Bench) -> None:
    policy = "checks_policy:\n  min_coverage: 0.8\n  on_failure: warn\n"
    bench.manifest(docs=GONE, policy=policy)
    result = bench.run("apply", "-e", "staging", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "retrieval checks before the swap: Coverage@1 3/4 (75%)" in result.output
    assert f"  failed: '{MORTGAGE_QUERY}': expected docs/mortgage.md" in result.output
    assert "; retrieval checks 3/4 passed (Coverage@1 75%)" in result.output
    assert "Apply complete: 4 created (retrieval checks: 3/4 passed) in" in result.output
    json_run = bench.run("apply", "-e", "staging", "--auto-approve", "--json")
    assert json_run.exit_code == 0  # no changes: apply does not run, nothing to check
    assert bench.run("check", "-e", "staging").exit_code == ExitCode.INDEX_GATE


def test_apply_json_progress_has_the_checks(bench: Bench) -> None:
    bench.manifest()
    result = bench.run("apply", "-e", "staging", "--auto-approve", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    finished = [e for e in lines if e["event"] == "checks_finished"]
    assert [e["stage"] for e in finished] == ["before_swap", "after_swap"]
    assert finished[0]["coverage_at_1"] == 1.0 and finished[0]["total"] == 4


def test_no_checks_means_no_search_request(bench: Bench) -> None:
    bench.manifest(checks="")
    events = RecordingEvents()
    result, _ = bench.apply(events)
    assert bench.searches() == 0
    assert result.checks is None and result.checks_before_swap is None
    assert "checks_finished" not in events.names()
    assert "checks" not in after_snapshot(bench)


def test_checks_count_only_the_documents_the_agent_is_about_to_have(bench: Bench) -> None:
    """A replaced document's old version is still in the workspace (and ranks first for its
    query) until after the swap; it must not make the check pass."""
    bench.manifest(policy="checks_policy:\n  min_coverage: 0.8\n  on_failure: warn\n")
    bench.apply()
    bench.manifest(docs=GONE, policy="checks_policy:\n  min_coverage: 0.8\n  on_failure: warn\n")
    result, _ = bench.apply()
    before = result.checks_before_swap
    assert isinstance(before, ChecksReport)
    failed = before.failures[0]
    assert failed.query == MORTGAGE_QUERY and failed.found == ()
    hits = bench.provider.search(MORTGAGE_QUERY, 10)
    assert hits == ()  # after the swap and the deletion, the old version is gone too


class SearchFails:
    """The real provider, except that content search fails after `ok` successful calls."""

    def __init__(self, inner: object, ok: int) -> None:
        self._inner = inner
        self._ok = ok

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def search(self, query: str, limit: int) -> tuple[object, ...]:
        if self._ok <= 0:
            raise ServerError("GET /v1/convai/knowledge-base/search failed: 503", status=503)
        self._ok -= 1
        return self._inner.search(query, limit)  # type: ignore[attr-defined,no-any-return]


def apply_with(bench: Bench, provider: object) -> ApplyResult:
    target = bench.target()
    live = bench.provider.read_state(target.agent_id, target.project, target.environment)
    return apply_agent_plan(
        plan_target(target, live),
        target,
        provider,  # type: ignore[arg-type]
        bench.clock,
        events=RecordingEvents(),
        options=ApplyOptions(),
    )


def test_a_search_failure_before_the_swap_leaves_the_agent_unchanged(bench: Bench) -> None:
    bench.manifest()
    with pytest.raises(ApplyError) as info:
        apply_with(bench, SearchFails(bench.provider, ok=0))
    assert "while running the retrieval checks" in info.value.summary
    assert "The agent was not changed" in (info.value.detail or "")
    assert bench.kb_ids() == []


def test_a_search_failure_after_the_swap_is_only_a_warning(bench: Bench) -> None:
    bench.manifest()
    result = apply_with(bench, SearchFails(bench.provider, ok=4))  # the gate's 4 searches
    assert len(bench.kb_ids()) == 4
    assert result.checks_before_swap is not None and result.checks is None
    assert any("after the swap could not run" in w for w in result.warnings)


def test_the_live_view_shows_the_checks(bench: Bench) -> None:
    out = io.StringIO()
    bench.manifest(docs=GONE, policy="checks_policy:\n  min_coverage: 0.8\n  on_failure: warn\n")
    with LiveProgress(bench.clock, Console(file=out, force_terminal=True, width=200)) as live:
        bench.apply(live)  # type: ignore[arg-type]
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.getvalue())
    assert "checks" in text and "3/4" in text and "Coverage@1 75%, after the swap" in text
    assert f"check failed: '{MORTGAGE_QUERY}'" in text
