"""What apply reports while it runs: the `ApplyEvents` protocol and two plain implementations.

The executor never prints. It calls these hooks (Terraform's hooks, in spirit) and
`kbctl.cli.progress` draws them: a live table on a TTY, timestamped lines in CI, JSON lines for
machines. Events are emitted from the thread that called `apply_agent_plan` only (workers hand
their results back first), so implementations need no locking of their own.

`NullEvents` ignores everything; `RecordingEvents` keeps every call for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

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


class ApplyEvents(Protocol):
    """Progress of one apply, one call per thing that happened."""

    def plan_started(self, plan: AgentPlan) -> None:
        """Apply of `plan` begins (after the guards passed)."""
        ...

    def phase_started(self, phase: Phase, total: int) -> None:
        """A step of §5 begins; `total` is how many items it has (0 for the swap)."""
        ...

    def document_created(self, key: str, doc_id: str, *, reused: bool) -> None:
        """A document was uploaded, or a managed orphan with the wanted content was reused."""
        ...

    def document_renamed(self, key: str, doc_id: str, name: str) -> None:
        """A kept document got its new name."""
        ...

    def index_progress(self, key: str, status: IndexStatus, pct: float) -> None:
        """The index of `key` was read (after a request or a poll)."""
        ...

    def gate_passed(self, indexed: int) -> None:
        """Every document that needed an index has one; the agent may now be changed."""
        ...

    def checks_finished(self, stage: CheckStage, report: ChecksReport) -> None:
        """The retrieval checks ran (before or after the swap); `report` has every result."""
        ...

    def agent_updated(self, agent_id: str, version_id: str | None) -> None:
        """The agent's `knowledge_base` (and RAG settings) were written and verified."""
        ...

    def document_deleted(self, key: str, doc_id: str) -> None:
        """A superseded (or, after a failed gate, just-created) document was deleted."""
        ...

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        """A document apply meant to delete stays, and why."""
        ...

    def warning(self, message: str) -> None:
        """Something the user should know; apply goes on."""
        ...

    def finished(self, summary: str, seconds: float) -> None:
        """The agent's apply completed: `summary` like `2 created, 1 replaced, 1 deleted`."""
        ...


class NullEvents:
    """Ignores every event."""

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

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def finished(self, summary: str, seconds: float) -> None:
        pass


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One call on `RecordingEvents`: the hook's name and its arguments."""

    name: str
    args: tuple[object, ...]


class RecordingEvents:
    """Keeps every event, in order, for tests to assert on."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    def names(self) -> list[str]:
        """The hook names, in order."""
        return [e.name for e in self.events]

    def of(self, name: str) -> list[tuple[object, ...]]:
        """The arguments of every call of one hook."""
        return [e.args for e in self.events if e.name == name]

    def _add(self, name: str, *args: object) -> None:
        self.events.append(RecordedEvent(name, args))

    def plan_started(self, plan: AgentPlan) -> None:
        self._add("plan_started", plan.agent_id)

    def phase_started(self, phase: Phase, total: int) -> None:
        self._add("phase_started", phase, total)

    def document_created(self, key: str, doc_id: str, *, reused: bool) -> None:
        self._add("document_created", key, doc_id, reused)

    def document_renamed(self, key: str, doc_id: str, name: str) -> None:
        self._add("document_renamed", key, doc_id, name)

    def index_progress(self, key: str, status: IndexStatus, pct: float) -> None:
        self._add("index_progress", key, status, pct)

    def gate_passed(self, indexed: int) -> None:
        self._add("gate_passed", indexed)

    def checks_finished(self, stage: CheckStage, report: ChecksReport) -> None:
        self._add("checks_finished", stage, report)

    def agent_updated(self, agent_id: str, version_id: str | None) -> None:
        self._add("agent_updated", agent_id, version_id)

    def document_deleted(self, key: str, doc_id: str) -> None:
        self._add("document_deleted", key, doc_id)

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        self._add("document_kept", key, doc_id, reason)

    def warning(self, message: str) -> None:
        self._add("warning", message)

    def finished(self, summary: str, seconds: float) -> None:
        self._add("finished", summary, seconds)
