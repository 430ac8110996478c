"""Apply's progress for logs and machines: timestamped plain lines (CI) and JSON lines (--json).

`PlainProgress` prints one line per thing that happened, and a "still waiting" heartbeat while
the index gate waits (some CI systems kill silent jobs); `JsonProgress` prints one object per
line on stdout. Drawing only.
"""

from __future__ import annotations

import json
from typing import TextIO

from kbctl.apply.events import (
    Phase,
)
from kbctl.checks import ChecksReport, CheckStage, report_to_dict
from kbctl.cli.drawing import STAGE_TEXT, Drawing, phase_text, plan_counts
from kbctl.clock import Clock, utc_iso
from kbctl.model import IndexStatus
from kbctl.plan.types import AgentPlan

#: Silence after which the next index poll prints a "still waiting" line (polls come at least
#: every 10 s, so CI logs never stay silent for more than 15 s while the gate waits).
HEARTBEAT_SECONDS = 5.0


class PlainProgress(Drawing):
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
        self.words = plan.words
        self._status.clear()
        self._budget = plan.policy.index_timeout
        self._waiting_since = None
        self._line(
            f"applying {plan.project}/{plan.environment} to {plan.words.label(plan.agent_id)}: "
            f"{plan_counts(plan)}"
        )

    def phase_started(self, phase: Phase, total: int) -> None:
        self._waiting_since = self.clock.monotonic() if phase is Phase.INDEX else None
        self._line(phase_text(phase, total, self.words))

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
        self._line(f"retrieval checks {STAGE_TEXT[stage]}: {report.coverage_line()}")
        for result in report.failures:
            self._line(f"  failed: {result.describe()}")

    def agent_updated(self, agent_id: str, version_id: str | None) -> None:
        version = f" (version {version_id})" if version_id else ""
        self._line(f"updated {self.words.label(agent_id)}{version}, verified")

    def document_deleted(self, key: str, doc_id: str) -> None:
        self._line(f"deleted {key} ({doc_id})")

    def extra_copy_deleted(self, key: str, doc_id: str) -> None:
        self._line(f"deleted an extra copy of {key} ({doc_id}): a lost create had landed")

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        self._line(f"kept {key} ({doc_id}): {reason}")

    def rollout_step(self, step: str, branch: str, message: str) -> None:
        self._line(message)

    def warning(self, message: str) -> None:
        self._line(f"warning: {message}")

    def finished(self, summary: str, seconds: float) -> None:
        self._line(f"{self.words.label(self.agent)}: {summary} ({seconds:.1f}s)")


class JsonProgress(Drawing):
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

    def extra_copy_deleted(self, key: str, doc_id: str) -> None:
        self._emit("extra_copy_deleted", key=key, id=doc_id)

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        self._emit("document_kept", key=key, id=doc_id, reason=reason)

    def rollout_step(self, step: str, branch: str, message: str) -> None:
        self._emit("rollout_step", step=step, branch=branch, message=message)

    def warning(self, message: str) -> None:
        self._emit("warning", message=message)

    def finished(self, summary: str, seconds: float) -> None:
        self._emit("finished", summary=summary, seconds=round(seconds, 3))
