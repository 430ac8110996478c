"""The values around one apply: its options, its result, and the hook snapshots plug into.

Pure data and protocols; `kbctl.apply.executor` fills them in. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from kbctl.apply.events import EventSink
from kbctl.checks.report import ChecksReport
from kbctl.model import LiveState, Target
from kbctl.plan.types import AgentPlan
from kbctl.stop import StopSignal

#: None is "auto": start at 8 requests in flight and adapt to the server's limit (429s cut it,
#: successes grow it, up to 32; `kbctl.provider.limiter`). ElevenLabs plans allow 2-15 (reference
#: §1.5): a fixed default either wastes most of a big plan or overruns a small one.
DEFAULT_CONCURRENCY: int | None = None


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    """How to apply.

    Attributes:
        allow_destroy: let deletions that `protect`, `max_deletes` or "remove everything" guard.
        concurrency: requests in flight at most (uploads, index requests, polls, deletions), a
            hard cap; None: adapt to the server's limit (see `DEFAULT_CONCURRENCY`).
        poll_initial: first wait before polling an index again, in seconds; doubles each poll.
        poll_max: the longest wait between two polls of one document.
        run_id: names this run in its lease and the agent's version description (default: a
            fresh random id).
        commit: the git commit being applied, shown to a run that finds the lease taken.
        stop: asked to stop (a signal): apply ends at its next safe point.
    """

    allow_destroy: bool = False
    concurrency: int | None = DEFAULT_CONCURRENCY
    poll_initial: float = 1.0
    poll_max: float = 10.0
    run_id: str | None = None
    commit: str | None = None
    stop: StopSignal = field(default_factory=StopSignal, compare=False)


class Outcome(StrEnum):
    """How an apply ended."""

    APPLIED = "applied"
    GATE_FAILED = "gate_failed"  # stopped at the index gate; agent unchanged
    CONCURRENT_CHANGE = "concurrent_change"  # someone else changed the agent; agent unchanged
    FAILED = "failed"  # an API or verification failure; see the error
    INTERRUPTED = "interrupted"  # stopped on request (SIGINT/SIGTERM) at a safe point


@dataclass(frozen=True, slots=True)
class DocOutcome:
    """One document apply did something with: its key, its id, and a note (why it was kept)."""

    key: str
    id: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What one `apply_agent_plan` did (also on failure, for the `after` hook).

    Attributes:
        created: documents uploaded by this run.
        reused: managed orphans that already had the wanted content (no upload).
        renamed: kept documents that got a new name.
        indexed: keys whose index succeeded (requested by this run).
        deleted: documents deleted (superseded ones, or this run's after a failed gate).
        kept: documents apply meant to delete but kept, with the reason in `note`.
        timings: seconds per phase, in order.
        checks_before_swap: the retrieval checks against the documents the agent was about to
            have (None: no checks declared, or the run stopped before them).
        checks: the retrieval checks against what the agent has after the swap.
        extra_copies: copies left by creates whose answer was lost (they landed after all),
            deleted by this run.
    """

    agent_id: str
    outcome: Outcome
    created: tuple[DocOutcome, ...] = ()
    reused: tuple[DocOutcome, ...] = ()
    renamed: tuple[DocOutcome, ...] = ()
    indexed: tuple[str, ...] = ()
    deleted: tuple[DocOutcome, ...] = ()
    kept: tuple[DocOutcome, ...] = ()
    warnings: tuple[str, ...] = ()
    version_id: str | None = None
    agent_updated: bool = False
    timings: tuple[tuple[str, float], ...] = ()
    seconds: float = 0.0
    error: str | None = None  # the error's summary when the outcome is not APPLIED
    checks_before_swap: ChecksReport | None = None
    checks: ChecksReport | None = None
    gate_rounds: int = 0  # index poll rounds of the gate
    gate_requests: int = 0  # batch reads those rounds made (⌈pending/100⌉ each)
    gate_busiest_round: int = 0  # the most batch reads one round made
    #: `rollout: branch`: the branch the change was staged on, and whether it now runs as a
    #: canary (main unchanged) rather than merged.
    branch: str | None = None
    canary_percent: int | None = None
    extra_copies: tuple[DocOutcome, ...] = ()

    @property
    def ids_by_key(self) -> dict[str, str]:
        """The id now holding each created or reused key."""
        return {d.key: d.id for d in (*self.reused, *self.created)}


def summary_line(plan: AgentPlan, result: ApplyResult) -> str:
    """One line for people: `2 created, 1 replaced, 3 indexed, 1 deleted (1 reused …)`."""
    s = plan.summary
    parts = [
        f"{s.create} created" if s.create else "",
        f"{s.replace} replaced" if s.replace else "",
        f"{s.update} updated" if s.update else "",
        f"{len(result.indexed)} indexed" if result.indexed else "",
        f"{len(result.deleted)} deleted" if result.deleted else "",
        f"{len(result.kept)} kept" if result.kept else "",
        "RAG settings changed" if plan.rag_changes else "",
    ]
    text = ", ".join(p for p in parts if p) or "nothing to do"
    if result.reused:
        text += f" ({len(result.reused)} reused without upload)"
    if result.extra_copies:
        text += f"; {len(result.extra_copies)} extra copies of lost creates deleted"
    checks = result.checks if result.checks is not None else result.checks_before_swap
    if checks is not None:
        text += f"; {checks.summary()}"
    if result.branch is not None and result.canary_percent is not None:
        text += f"; canary: branch {result.branch} answers {result.canary_percent}% of the traffic"
    elif result.branch is not None and result.agent_updated:
        text += f"; staged on branch {result.branch}, merged"
    return text


class ApplyHook(Protocol):
    """Called around the changes of one apply (snapshots plug in here)."""

    def before(self, target: Target, live: LiveState, plan: AgentPlan) -> None:
        """After the guards passed and the live state was checked, before the first change."""
        ...

    def after(
        self,
        target: Target,
        plan: AgentPlan,
        result: ApplyResult,
        live_after: LiveState | None,
    ) -> None:
        """At the end, success or failure; `live_after` is None when it could not be read."""
        ...

    def watch(self, events: EventSink) -> EventSink:
        """The sink the executor reports to: `events`, seen by the hook first (checkpoints)."""
        ...


class NullHook:
    """Does nothing."""

    def watch(self, events: EventSink) -> EventSink:
        return events

    def before(self, target: Target, live: LiveState, plan: AgentPlan) -> None:
        pass

    def after(
        self,
        target: Target,
        plan: AgentPlan,
        result: ApplyResult,
        live_after: LiveState | None,
    ) -> None:
        pass
