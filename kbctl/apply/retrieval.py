"""The retrieval checks of one apply: before the swap (a gate) and after it (a report).

Owns when apply runs the target's checks and what it does with their reports: it builds the
document set the agent is about to have from the plan's `knowledge_base` and the ids this run
created or reused, runs `kbctl.checks.run_checks` over the content-search retriever, reports
through `EventSink`, and says whether apply must stop. The executor does the cleanup and
raises (`kbctl.checks.gate.checks_gate_error`). A target without checks costs no request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kbctl.apply.events import ChecksFinished, EventSink, Phase, PhaseStarted
from kbctl.checks import ChecksReport, SearchRetriever, planned_documents, run_checks
from kbctl.checks.gate import CheckStage, warning_text
from kbctl.checks.runner import MapFn
from kbctl.errors import ApiError
from kbctl.model import Target
from kbctl.plan.types import AgentPlan
from kbctl.provider.base import Provider


class RetrievalGate:
    """Runs a target's checks for one apply and keeps both reports."""

    def __init__(
        self,
        target: Target,
        plan: AgentPlan,
        provider: Provider,
        events: EventSink,
        warn: Callable[[str], None],
    ) -> None:
        self._target = target
        self._plan = plan
        self._retriever = SearchRetriever(provider)
        self._events = events
        self._warn = warn
        self.before: ChecksReport | None = None
        self.after: ChecksReport | None = None

    def before_swap(self, ids_by_key: Mapping[str, str], map_fn: MapFn) -> ChecksReport | None:
        """Check the documents the agent is about to have; the report when apply must stop.

        Below `min_coverage`, `on_failure: warn` reports a warning and lets apply go on.

        Raises:
            ApiError: a search failed (after the client's retries).
        """
        report = self._run(CheckStage.BEFORE_SWAP, ids_by_key, map_fn)
        if report is None or report.meets:
            return None
        if report.policy.on_failure == "warn":
            self._warn(warning_text(CheckStage.BEFORE_SWAP, report))
            return None
        return report

    def after_swap(self, ids_by_key: Mapping[str, str], map_fn: MapFn) -> None:
        """Check what the agent now has; report only (a failed search is a warning too)."""
        try:
            report = self._run(CheckStage.AFTER_SWAP, ids_by_key, map_fn)
        except ApiError as err:
            self._warn(f"the retrieval checks after the swap could not run: {err.summary}")
            return
        if report is not None and not report.meets:
            self._warn(warning_text(CheckStage.AFTER_SWAP, report))

    def _run(
        self, stage: CheckStage, ids_by_key: Mapping[str, str], map_fn: MapFn
    ) -> ChecksReport | None:
        checks = self._target.checks
        if not checks:
            return None
        self._events(PhaseStarted(Phase.CHECKS, len(checks)))
        documents = planned_documents(self._plan.knowledge_base, ids_by_key)
        report = run_checks(
            checks,
            documents,
            self._retriever,
            policy=self._target.checks_policy,
            map_fn=map_fn,
        )
        if stage is CheckStage.BEFORE_SWAP:
            self.before = report
        else:
            self.after = report
        self._events(ChecksFinished(stage, report))
        return report
