"""The shared base of apply's drawings: the event dispatch and the wording they share.

`Drawing` turns each `ApplyEvent` into a call of one method (no-ops by default); the plain,
JSON and live drawings override what they show. Drawing only: nothing here decides anything.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self, assert_never

from kbctl.apply.events import (
    AgentUpdated,
    ApplyEvent,
    ApplyWarning,
    ChecksFinished,
    DocumentCreated,
    DocumentDeleted,
    DocumentKept,
    DocumentRenamed,
    ExtraCopyDeleted,
    Finished,
    GatePassed,
    IndexProgress,
    Phase,
    PhaseStarted,
    PlanStarted,
    RolloutStep,
)
from kbctl.checks import ChecksReport, CheckStage
from kbctl.clock import Clock
from kbctl.model import IndexStatus
from kbctl.plan.types import AgentPlan
from kbctl.wording import AGENT, Wording

PHASE_TEXT = {
    Phase.CREATE: "uploading {n} document(s) and requesting their indexes",
    Phase.INDEX: "waiting for {n} index(es)",
    Phase.CHECKS: "running {n} retrieval check(s)",
    Phase.SWAP: "updating the agent ({n} entries, one PATCH)",
    Phase.DELETE: "deleting {n} superseded document(s)",
    Phase.CLEANUP: "index gate failed: deleting the {n} document(s) this run created",
}


def phase_text(phase: Phase, n: int, words: Wording = AGENT) -> str:
    """A step of apply starting, for a person: `updating the agent (3 entries, one PATCH)`."""
    if phase is Phase.SWAP and words != AGENT:  # a store's files are attached and detached
        return f"updating {words.kb} ({n} entries)"
    return PHASE_TEXT[phase].format(n=n)


STAGE_TEXT = {
    CheckStage.BEFORE_SWAP: "before the swap",
    CheckStage.AFTER_SWAP: "after the swap",
}


def plan_counts(plan: AgentPlan) -> str:
    s = plan.summary
    parts = [
        f"{n} {word}"
        for n, word in (
            (s.create, "to create"),
            (s.replace, "to replace"),
            (s.update, "to update"),
            (sum(1 for d in plan.deletions if d.reason != "replaced"), "to delete"),
        )
        if n
    ]
    if plan.rag_changes:
        parts.append("RAG settings")
    return ", ".join(parts) or "indexes only"


class Drawing:
    """Shared bookkeeping: the current agent and the context-manager protocol."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.agent = ""
        self.words = AGENT  # how the current target is named (agent, vector store)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop drawing (idempotent)."""

    def __call__(self, event: ApplyEvent) -> None:
        """Draw one event (the `EventSink` of the executor)."""
        match event:
            case PlanStarted(plan=plan):
                self.plan_started(plan)
            case PhaseStarted(phase=phase, total=total):
                self.phase_started(phase, total)
            case DocumentCreated(key=key, doc_id=doc_id, reused=reused):
                self.document_created(key, doc_id, reused=reused)
            case DocumentRenamed(key=key, doc_id=doc_id, name=name):
                self.document_renamed(key, doc_id, name)
            case IndexProgress(key=key, status=status, pct=pct):
                self.index_progress(key, status, pct)
            case GatePassed(indexed=indexed):
                self.gate_passed(indexed)
            case ChecksFinished(stage=stage, report=report):
                self.checks_finished(stage, report)
            case AgentUpdated(agent_id=agent_id, version_id=version_id):
                self.agent_updated(agent_id, version_id)
            case DocumentDeleted(key=key, doc_id=doc_id):
                self.document_deleted(key, doc_id)
            case ExtraCopyDeleted(key=key, doc_id=doc_id):
                self.extra_copy_deleted(key, doc_id)
            case DocumentKept(key=key, doc_id=doc_id, reason=reason):
                self.document_kept(key, doc_id, reason)
            case ApplyWarning(message=message):
                self.warning(message)
            case RolloutStep(step=step, branch=branch, message=message):
                self.rollout_step(step, branch, message)
            case Finished(summary=summary, seconds=seconds):
                self.finished(summary, seconds)
            case _:
                assert_never(event)

    # One method per event; each drawing overrides what it shows.

    def plan_started(self, plan: AgentPlan) -> None:
        pass

    def phase_started(self, phase: Phase, total: int) -> None:
        pass

    def document_created(self, key: str, doc_id: str, *, reused: bool) -> None:
        pass

    def document_renamed(self, key: str, doc_id: str, name: str) -> None:
        pass

    def index_progress(self, key: str, status: IndexStatus, pct: float) -> None:
        pass

    def gate_passed(self, indexed: int) -> None:
        pass

    def checks_finished(self, stage: CheckStage, report: ChecksReport) -> None:
        pass

    def agent_updated(self, agent_id: str, version_id: str | None) -> None:
        pass

    def document_deleted(self, key: str, doc_id: str) -> None:
        pass

    def extra_copy_deleted(self, key: str, doc_id: str) -> None:
        pass

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        pass

    def rollout_step(self, step: str, branch: str, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def finished(self, summary: str, seconds: float) -> None:
        pass
