"""What apply reports while it runs: events as small frozen values, and the sink they go to.

The executor never prints. It hands each thing that happened to an `EventSink` (a plain callable,
Terraform's hooks in spirit) and `kbctl.cli.progress` draws them: a live table on a TTY,
timestamped lines in CI, JSON lines for machines. Events come from the thread that called
`apply_agent_plan` and from the index gate's poller, one at a time (`serialized`), so sinks need no
locking.

A new event is one class here plus the cases of the sinks that care; `ApplyEvent` is the closed
union sinks match on. `ignore` drops everything; `RecordingEvents` keeps every event for tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from kbctl.checks.gate import CheckStage
from kbctl.checks.report import ChecksReport
from kbctl.model import IndexStatus
from kbctl.plan.types import AgentPlan


class Phase(StrEnum):
    """The steps of DESIGN §5, in order."""

    CREATE = "create"  # upload new documents (and request their index)
    INDEX = "index"  # wait for every index to succeed
    CHECKS = "checks"  # run the retrieval checks (before the swap: a gate; after: a report)
    SWAP = "swap"  # one PATCH of the agent, then read it back
    DELETE = "delete"  # remove superseded documents
    CLEANUP = "cleanup"  # after a failed gate: remove what this run created


@dataclass(frozen=True, slots=True)
class PlanStarted:
    """Apply of `plan` begins (after the guards passed)."""

    plan: AgentPlan


@dataclass(frozen=True, slots=True)
class PhaseStarted:
    """A step of §5 begins; `total` is how many items it has."""

    phase: Phase
    total: int


@dataclass(frozen=True, slots=True)
class DocumentCreated:
    """A document was uploaded, or (`reused`) a managed orphan with the wanted content."""

    key: str
    doc_id: str
    reused: bool = False


@dataclass(frozen=True, slots=True)
class DocumentRenamed:
    """A kept document got its new name."""

    key: str
    doc_id: str
    name: str


@dataclass(frozen=True, slots=True)
class IndexProgress:
    """The index of `key` was read (after a request or a poll)."""

    key: str
    status: IndexStatus
    pct: float


@dataclass(frozen=True, slots=True)
class GatePassed:
    """Every document that needed an index has one; the agent may now be changed."""

    indexed: int


@dataclass(frozen=True, slots=True)
class ChecksFinished:
    """The retrieval checks ran (before or after the swap); `report` has every result."""

    stage: CheckStage
    report: ChecksReport


@dataclass(frozen=True, slots=True)
class AgentUpdated:
    """The agent's `knowledge_base` (and RAG settings) were written and verified."""

    agent_id: str
    version_id: str | None


@dataclass(frozen=True, slots=True)
class DocumentDeleted:
    """A superseded (or, after a failed gate, just-created) document was deleted."""

    key: str
    doc_id: str


@dataclass(frozen=True, slots=True)
class ExtraCopyDeleted:
    """An extra copy of `key` was deleted: a create whose answer was lost had landed after all
    (the run kept another copy; `kbctl.apply.extras`)."""

    key: str
    doc_id: str


@dataclass(frozen=True, slots=True)
class DocumentKept:
    """A document apply meant to delete stays, and why."""

    key: str
    doc_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ApplyWarning:
    """Something the user should know; apply goes on."""

    message: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The agent's apply completed: `summary` like `2 created, 1 replaced, 1 deleted`."""

    summary: str
    seconds: float


@dataclass(frozen=True, slots=True)
class RolloutStep:
    """A step of a branch rollout: `branch_created`, `branch_archived`, `branch_merged`,
    `canary_deployed`; `message` says it for people."""

    step: str
    branch: str
    message: str


ApplyEvent = (
    PlanStarted
    | PhaseStarted
    | DocumentCreated
    | DocumentRenamed
    | IndexProgress
    | GatePassed
    | ChecksFinished
    | AgentUpdated
    | DocumentDeleted
    | ExtraCopyDeleted
    | DocumentKept
    | ApplyWarning
    | RolloutStep
    | Finished
)

#: Where events go: any callable taking one event.
EventSink = Callable[[ApplyEvent], None]

E = TypeVar("E", bound=ApplyEvent)


def event_name(event: ApplyEvent) -> str:
    """The event's wire name: `PhaseStarted` → `phase_started` (`--json`'s `event` field)."""
    name = type(event).__name__.removeprefix("Apply")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def ignore(event: ApplyEvent) -> None:
    """A sink that drops every event."""


def serialized(events: EventSink) -> EventSink:
    """`events`, called by one thread at a time (the run's thread and the gate's poller)."""
    lock = threading.RLock()

    def sink(event: ApplyEvent) -> None:
        with lock:
            events(event)

    return sink


class RecordingEvents:
    """A sink that keeps every event, in order, for tests to assert on."""

    def __init__(self) -> None:
        self.events: list[ApplyEvent] = []

    def __call__(self, event: ApplyEvent) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        """The events' wire names (`plan_started`, …), in order."""
        return [event_name(e) for e in self.events]

    def of(self, kind: type[E]) -> list[E]:
        """Every event of one kind, in order."""
        return [e for e in self.events if isinstance(e, kind)]
