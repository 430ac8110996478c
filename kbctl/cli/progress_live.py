"""Apply's progress on a terminal: a rich Live view of the phases and the documents in flight.

The index phase shows the time waited against the timeout budget, redrawn on every refresh.
Drawing only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from kbctl.apply.events import (
    Phase,
)
from kbctl.checks import ChecksReport, CheckStage
from kbctl.cli.drawing import STAGE_TEXT, Drawing, plan_counts
from kbctl.clock import Clock
from kbctl.model import IndexStatus
from kbctl.plan.types import Action, AgentPlan


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


class LiveProgress(Drawing):
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
        self.words = plan.words
        self._title = (
            f"Applying {plan.project}/{plan.environment} to {plan.words.label(plan.agent_id)}: "
            + plan_counts(plan)
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
        counts.extra = [f"Coverage@1 {report.coverage_at_1:.0%}, {STAGE_TEXT[stage]}"]
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

    def extra_copy_deleted(self, key: str, doc_id: str) -> None:
        self._set(f"{key} ({doc_id})", "extra copy deleted", "magenta")
        self._refresh()

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        phase = Phase.CLEANUP if Phase.CLEANUP in self._phases else Phase.DELETE
        self._bump(phase, "kept 1")
        self._set(f"{key} ({doc_id})", f"kept: {reason}", "yellow")
        self._refresh()

    def rollout_step(self, step: str, branch: str, message: str) -> None:
        live = self._start()
        live.console.print(Text(message))

    def warning(self, message: str) -> None:
        live = self._start()
        live.console.print(Text.assemble(("warning: ", "yellow"), message))

    def finished(self, summary: str, seconds: float) -> None:
        self._title = f"{self.words.title} {self.agent}: {summary} ({seconds:.1f}s)"
        self.close()
