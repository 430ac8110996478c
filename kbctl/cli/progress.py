"""How `kbctl apply` shows its progress: the three drawings of `ApplyEvents`.

- `LiveProgress` (a TTY): a rich Live view, one line per phase with counts, and a table of the
  documents in flight (uploaded, indexing with percentage, failed, deleted, kept).
- `PlainProgress` (no TTY, e.g. CI logs): one timestamped line per thing that happened,
  `2026-01-01T00:00:00Z  created quarters/q1.md (doc_abc)`; index polls print only on a change
  of status, so a long wait does not flood the log.
- `JsonProgress` (`--json`): one JSON object per line on stdout, `{"event": …, "time": …}`.

Each is also a context manager (the live view must stop before an error is printed) and has
`note` (a line outside any agent) and `run_finished` (the final summary with counts and time).
Times come from the injected clock. Drawing only: nothing here decides anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self, TextIO, assert_never

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from kbctl.apply.events import (
    AgentUpdated,
    ApplyEvent,
    ApplyWarning,
    ChecksFinished,
    DocumentCreated,
    DocumentDeleted,
    DocumentKept,
    DocumentRenamed,
    Finished,
    GatePassed,
    IndexProgress,
    Phase,
    PhaseStarted,
    PlanStarted,
)
from kbctl.checks import ChecksReport, CheckStage, report_to_dict
from kbctl.clock import Clock, utc_iso
from kbctl.model import IndexStatus
from kbctl.plan.types import Action, AgentPlan

_PHASE_TEXT = {
    Phase.CREATE: "uploading {n} document(s) and requesting their indexes",
    Phase.INDEX: "waiting for {n} index(es)",
    Phase.CHECKS: "running {n} retrieval check(s)",
    Phase.SWAP: "updating the agent ({n} entries, one PATCH)",
    Phase.DELETE: "deleting {n} superseded document(s)",
    Phase.CLEANUP: "index gate failed: deleting the {n} document(s) this run created",
}


class _Base:
    """Shared bookkeeping: the current agent and the context-manager protocol."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.agent = ""

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
            case DocumentKept(key=key, doc_id=doc_id, reason=reason):
                self.document_kept(key, doc_id, reason)
            case ApplyWarning(message=message):
                self.warning(message)
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

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def finished(self, summary: str, seconds: float) -> None:
        pass


# --------------------------------------------------------------------------------------------


class PlainProgress(_Base):
    """Timestamped plain lines, for CI logs."""

    def __init__(self, clock: Clock, stream: TextIO) -> None:
        super().__init__(clock)
        self.stream = stream
        self._status: dict[str, IndexStatus] = {}
        self._last_line = clock.monotonic()
        self._waiting_since: float | None = None
        self._budget = 0.0

    def _line(self, text: str) -> None:
        self.stream.write(f"{utc_iso(self.clock.now())}  {text}\n")
        self.stream.flush()
        self._last_line = self.clock.monotonic()

    def _heartbeat(self) -> None:
        """While the gate waits, a line at least every HEARTBEAT_SECONDS (CI kills silent jobs)."""
        if self._waiting_since is None:
            return
        now = self.clock.monotonic()
        if now - self._last_line < HEARTBEAT_SECONDS:
            return
        pending = sum(1 for s in self._status.values() if s is not IndexStatus.SUCCEEDED)
        self._line(
            f"still waiting for {pending} index(es) "
            f"({now - self._waiting_since:.0f} s of {self._budget:.0f} s)"
        )

    def note(self, message: str) -> None:
        """A line outside the events (no changes, skipped agents)."""
        self._line(message)

    def run_finished(self, title: str, summary: str, seconds: float) -> None:
        """The last line of the run (`Apply complete: …`)."""
        self._line(f"{title}: {summary} in {seconds:.1f}s")

    def plan_started(self, plan: AgentPlan) -> None:
        self.agent = plan.agent_id
        self._status.clear()
        self._budget = plan.policy.index_timeout
        self._waiting_since = None
        self._line(
            f"applying {plan.project}/{plan.environment} to agent {plan.agent_id}: {_counts(plan)}"
        )

    def phase_started(self, phase: Phase, total: int) -> None:
        self._waiting_since = self.clock.monotonic() if phase is Phase.INDEX else None
        self._line(_PHASE_TEXT[phase].format(n=total))

    def document_created(self, key: str, doc_id: str, *, reused: bool) -> None:
        if reused:
            self._line(f"reused {key} ({doc_id}, already uploaded with this content)")
        else:
            self._line(f"created {key} ({doc_id})")

    def document_renamed(self, key: str, doc_id: str, name: str) -> None:
        self._line(f"renamed {key} ({doc_id}) to {name!r}")

    def index_progress(self, key: str, status: IndexStatus, pct: float) -> None:
        if self._status.get(key) is status:
            self._heartbeat()
            return
        self._status[key] = status
        if status is IndexStatus.SUCCEEDED:
            self._line(f"indexed {key}")
        elif status.in_flight:
            self._line(f"indexing {key}: {status.value} {pct:.0f}%")
        else:
            self._line(f"index of {key}: {status.value}")

    def gate_passed(self, indexed: int) -> None:
        self._waiting_since = None
        self._line(f"index gate passed: {indexed} document(s) indexed")

    def checks_finished(self, stage: CheckStage, report: ChecksReport) -> None:
        self._line(f"retrieval checks {_STAGE_TEXT[stage]}: {report.coverage_line()}")
        for result in report.failures:
            self._line(f"  failed: {result.describe()}")

    def agent_updated(self, agent_id: str, version_id: str | None) -> None:
        version = f" (version {version_id})" if version_id else ""
        self._line(f"updated agent {agent_id}{version}, verified")

    def document_deleted(self, key: str, doc_id: str) -> None:
        self._line(f"deleted {key} ({doc_id})")

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        self._line(f"kept {key} ({doc_id}): {reason}")

    def warning(self, message: str) -> None:
        self._line(f"warning: {message}")

    def finished(self, summary: str, seconds: float) -> None:
        self._line(f"agent {self.agent}: {summary} ({seconds:.1f}s)")


# --------------------------------------------------------------------------------------------


class JsonProgress(_Base):
    """One JSON object per line, for machines."""

    def __init__(self, clock: Clock, stream: TextIO) -> None:
        super().__init__(clock)
        self.stream = stream

    def _emit(self, event: str, **fields: object) -> None:
        record: dict[str, object] = {"event": event, "time": utc_iso(self.clock.now())}
        if self.agent:
            record["agent_id"] = self.agent
        record.update(fields)
        self.stream.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        """A line outside the events."""
        self._emit("note", message=message)

    def run_finished(self, title: str, summary: str, seconds: float) -> None:
        """The last line of the run."""
        self.agent = ""
        self._emit("run_finished", title=title, summary=summary, seconds=round(seconds, 3))

    def plan_started(self, plan: AgentPlan) -> None:
        self.agent = plan.agent_id
        s = plan.summary
        self._emit(
            "plan_started",
            project=plan.project,
            environment=plan.environment,
            create=s.create,
            replace=s.replace,
            update=s.update,
            delete=sum(1 for d in plan.deletions if d.reason != "replaced"),
            deletions=len(plan.deletions),
        )

    def phase_started(self, phase: Phase, total: int) -> None:
        self._emit("phase_started", phase=phase.value, total=total)

    def document_created(self, key: str, doc_id: str, *, reused: bool) -> None:
        self._emit("document_created", key=key, id=doc_id, reused=reused)

    def document_renamed(self, key: str, doc_id: str, name: str) -> None:
        self._emit("document_renamed", key=key, id=doc_id, name=name)

    def index_progress(self, key: str, status: IndexStatus, pct: float) -> None:
        self._emit("index_progress", key=key, status=status.value, pct=round(pct, 1))

    def gate_passed(self, indexed: int) -> None:
        self._emit("gate_passed", indexed=indexed)

    def checks_finished(self, stage: CheckStage, report: ChecksReport) -> None:
        self._emit("checks_finished", stage=stage.value, **report_to_dict(report))

    def agent_updated(self, agent_id: str, version_id: str | None) -> None:
        self._emit("agent_updated", version_id=version_id)

    def document_deleted(self, key: str, doc_id: str) -> None:
        self._emit("document_deleted", key=key, id=doc_id)

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        self._emit("document_kept", key=key, id=doc_id, reason=reason)

    def warning(self, message: str) -> None:
        self._emit("warning", message=message)

    def finished(self, summary: str, seconds: float) -> None:
        self._emit("finished", summary=summary, seconds=round(seconds, 3))


# --------------------------------------------------------------------------------------------


@dataclass
class _Row:
    state: str
    style: str = ""
    updated: int = 0


@dataclass
class _Counts:
    done: int = 0
    total: int = 0
    extra: list[str] = field(default_factory=list)


_MAX_ROWS = 12
#: Silence after which the next index poll prints a "still waiting" line (polls come at least
#: every 10 s, so CI logs never stay silent for more than 15 s while the gate waits).
HEARTBEAT_SECONDS = 5.0


class LiveProgress(_Base):
    """A rich Live view on a TTY: phases with counts, and the documents in flight."""

    def __init__(self, clock: Clock, console: Console) -> None:
        super().__init__(clock)
        self.console = console
        self._live: Live | None = None
        self._title = ""
        self._phases: dict[Phase, _Counts] = {}
        self._rows: dict[str, _Row] = {}
        self._tick = 0
        self._index_since: float | None = None
        self._budget = 0.0

    def _start(self) -> Live:
        if self._live is None:
            # get_renderable: redrawn on every refresh, so the elapsed time ticks on its own.
            self._live = Live(
                console=self.console,
                refresh_per_second=8,
                transient=False,
                get_renderable=self._render,
            )
            self._live.start()
        return self._live

    def _refresh(self) -> None:
        self._start().update(self._render())

    def close(self) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
            self._live = None

    def note(self, message: str) -> None:
        """A line outside the events."""
        self.console.print(message, highlight=False)

    def run_finished(self, title: str, summary: str, seconds: float) -> None:
        """The last line of the run."""
        self.close()
        self.console.print(
            Text.assemble((f"{title}: ", "bold green"), f"{summary} in {seconds:.1f}s")
        )

    def _set(self, key: str, state: str, style: str = "") -> None:
        self._tick += 1
        self._rows[key] = _Row(state, style, self._tick)

    def _render(self) -> RenderableType:
        lines: list[RenderableType] = [Text(self._title, style="bold")]
        for phase, counts in self._phases.items():
            mark = "✓" if counts.total and counts.done >= counts.total else "…"
            extra = f"  ({', '.join(counts.extra)})" if counts.extra else ""
            if phase is Phase.INDEX and mark == "…" and self._index_since is not None:
                waited = self.clock.monotonic() - self._index_since
                extra += f"  {waited:.0f} s of {self._budget:.0f} s"
            lines.append(Text(f"  {mark} {phase.value:<8} {counts.done}/{counts.total}{extra}"))
        busy = sorted(self._rows.items(), key=lambda kv: -kv[1].updated)[:_MAX_ROWS]
        if busy:
            table = Table(show_header=True, header_style="dim", box=None, pad_edge=False)
            table.add_column("document")
            table.add_column("state")
            for key, row in busy:
                table.add_row(key, Text(row.state, style=row.style))
            lines.append(table)
            hidden = len(self._rows) - len(busy)
            if hidden > 0:
                lines.append(Text(f"  … and {hidden} more", style="dim"))
        return Group(*lines)

    def plan_started(self, plan: AgentPlan) -> None:
        self.close()
        self.agent = plan.agent_id
        self._title = (
            f"Applying {plan.project}/{plan.environment} to agent {plan.agent_id}: {_counts(plan)}"
        )
        self._phases.clear()
        self._rows.clear()
        self._budget = plan.policy.index_timeout
        self._index_since = None
        for change in plan.changes:
            if change.action is not Action.NOOP and change.action is not Action.DELETE:
                self._set(change.key, "pending", "dim")
        self._refresh()

    def phase_started(self, phase: Phase, total: int) -> None:
        self._phases[phase] = _Counts(0, total)
        if phase is Phase.INDEX:
            self._index_since = self.clock.monotonic()
        self._refresh()

    def _bump(self, phase: Phase, extra: str | None = None) -> None:
        counts = self._phases.setdefault(phase, _Counts())
        counts.done += 1
        if extra is not None:
            counts.extra.append(extra)

    def document_created(self, key: str, doc_id: str, *, reused: bool) -> None:
        self._bump(Phase.CREATE)
        self._set(key, "reused (no upload)" if reused else "uploaded", "cyan")
        self._refresh()

    def document_renamed(self, key: str, doc_id: str, name: str) -> None:
        self._set(key, "renamed", "cyan")
        self._refresh()

    def index_progress(self, key: str, status: IndexStatus, pct: float) -> None:
        if status is IndexStatus.SUCCEEDED:
            self._bump(Phase.INDEX)
            self._set(key, "indexed", "green")
        elif status.in_flight:
            self._set(key, f"indexing {pct:.0f}%", "yellow")
        else:
            self._set(key, status.value, "bold red")
        self._refresh()

    def gate_passed(self, indexed: int) -> None:
        self._refresh()

    def checks_finished(self, stage: CheckStage, report: ChecksReport) -> None:
        counts = self._phases.setdefault(Phase.CHECKS, _Counts())
        counts.done, counts.total = report.passed, report.total
        counts.extra = [f"Coverage@1 {report.coverage_at_1:.0%}, {_STAGE_TEXT[stage]}"]
        live = self._start()
        for result in report.failures:
            live.console.print(Text.assemble(("check failed: ", "yellow"), result.describe()))
        self._refresh()

    def agent_updated(self, agent_id: str, version_id: str | None) -> None:
        counts = self._phases.setdefault(Phase.SWAP, _Counts())
        counts.done = counts.total = 1
        if version_id:
            counts.extra.append(f"version {version_id}")
        for row in self._rows.values():
            if row.state in ("indexed", "uploaded", "reused (no upload)", "renamed", "pending"):
                row.state, row.style = "attached", "green"
        self._refresh()

    def document_deleted(self, key: str, doc_id: str) -> None:
        phase = Phase.CLEANUP if Phase.CLEANUP in self._phases else Phase.DELETE
        self._bump(phase)
        self._set(f"{key} ({doc_id})", "deleted", "magenta")
        self._refresh()

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        phase = Phase.CLEANUP if Phase.CLEANUP in self._phases else Phase.DELETE
        self._bump(phase, "kept 1")
        self._set(f"{key} ({doc_id})", f"kept: {reason}", "yellow")
        self._refresh()

    def warning(self, message: str) -> None:
        live = self._start()
        live.console.print(Text.assemble(("warning: ", "yellow"), message))

    def finished(self, summary: str, seconds: float) -> None:
        self._title = f"Agent {self.agent}: {summary} ({seconds:.1f}s)"
        self.close()


Progress = PlainProgress | JsonProgress | LiveProgress

_STAGE_TEXT = {
    CheckStage.BEFORE_SWAP: "before the swap",
    CheckStage.AFTER_SWAP: "after the swap",
}


def make_progress(clock: Clock, stream: TextIO, *, as_json: bool, tty: bool) -> Progress:
    """The drawing for this run: JSON lines, a live view on a TTY, or plain lines."""
    if as_json:
        return JsonProgress(clock, stream)
    if tty:
        return LiveProgress(clock, Console(file=stream, highlight=False))
    return PlainProgress(clock, stream)


def _counts(plan: AgentPlan) -> str:
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
