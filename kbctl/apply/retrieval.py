"""The retrieval checks of one apply: before the swap (a gate) and after it (a report).

Owns when apply runs the target's checks, with which retriever, and what it does with their
reports: it builds the document set the agent is about to have from the plan's `knowledge_base`
and the ids this run created or reused, runs `kbctl.checks.run_checks`, reports through
`EventSink`, and says whether apply must stop. The executor does the cleanup and raises
(`kbctl.checks.gate.checks_gate_error`). A target without checks costs no request.

Which retriever: the agent's own retrieval (rag-query, falling back to the content search on
404/405) wherever it can see the documents — on a staged branch before the merge, and on the
agent after the swap. Before the swap of a `direct` rollout the agent does not have the new
documents yet, so the content search (which ranks any workspace document) stands in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kbctl.apply.events import ChecksFinished, EventSink, Phase, PhaseStarted
from kbctl.checks import (
    AutoRetriever,
    ChecksReport,
    RagQueryRetriever,
    Retriever,
    SearchRetriever,
    planned_documents,
    run_checks,
)
from kbctl.checks.gate import CheckStage, warning_text
from kbctl.checks.retriever import RagQuerier
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
        rag: RagQuerier | None = None,
    ) -> None:
        self._target = target
        self._plan = plan
        self._provider = provider
        self._rag = rag
        self._events = events
        self._warn = warn
        self.before: ChecksReport | None = None
        self.after: ChecksReport | None = None

    def retriever(self, stage: CheckStage, branch_id: str | None = None) -> Retriever:
        """rag-query (auto) where the agent sees the documents, else the content search."""
        search = SearchRetriever(self._provider)
        if self._rag is None or (stage is CheckStage.BEFORE_SWAP and branch_id is None):
            return search
        agent = RagQueryRetriever(self._rag, self._plan.agent_id, branch_id=branch_id)
        return AutoRetriever(agent, search)

    def before_swap(
        self, ids_by_key: Mapping[str, str], map_fn: MapFn, *, branch_id: str | None = None
    ) -> ChecksReport | None:
        """Check the documents the agent is about to have (on `branch_id`, when staged there);
        the report when apply must stop.

        Below a threshold, `on_failure: warn` reports a warning and lets apply go on.

        Raises:
            ApiError: a retrieval failed (after the client's retries).
        """
        report = self._run(CheckStage.BEFORE_SWAP, ids_by_key, map_fn, branch_id)
        if report is None or report.meets:
            return None
        if report.policy.on_failure == "warn":
            self._warn(warning_text(CheckStage.BEFORE_SWAP, report, self._plan.words))
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
            self._warn(warning_text(CheckStage.AFTER_SWAP, report, self._plan.words))

    def _run(
        self,
        stage: CheckStage,
        ids_by_key: Mapping[str, str],
        map_fn: MapFn,
        branch_id: str | None = None,
    ) -> ChecksReport | None:
        checks = self._target.checks
        if not checks:
            return None
        self._events(PhaseStarted(Phase.CHECKS, len(checks)))
        documents = planned_documents(self._plan.knowledge_base, ids_by_key)
        report = run_checks(
            checks,
            documents,
            self.retriever(stage, branch_id),
            policy=self._target.checks_policy,
            map_fn=map_fn,
        )
        if stage is CheckStage.BEFORE_SWAP:
            self.before = report
        else:
            self.after = report
        self._events(ChecksFinished(stage, report))
        return report
