"""What a kbctl run in the action concluded, read from kbctl's own output rather than guessed
from its exit code, and the apply log in words.

- `plan_result`: the plan file `kbctl plan --out` wrote (for this environment, in this run) is
  the answer; an exit 0 or 2 without one is a usage error (an older kbctl exits 2 on those).
- `apply_result`: the `--json` event stream must end without an `error` event.
- `progress`: `--json` events → one human line each, for the job log (the JSON is kept as an
  artifact).

Standard library only; it never runs kbctl.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

# Findings of deletions apply's policy refuses without --allow-destroy (kbctl/apply/guards.py).
DESTROY_CODES = frozenset({"max_deletes", "protected", "destroy_all"})


@dataclass(frozen=True)
class Outcome:
    """One word for the workflow (`status`), whether it succeeded, and a sentence for people."""

    status: str  # changes | no-changes | refused | failing | error | applied
    ok: bool
    message: str
    has_changes: bool = False


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _has_changes(plan: dict[str, Any]) -> bool:
    flag = plan.get("has_changes")
    if isinstance(flag, bool):
        return flag
    summary = plan.get("summary") if isinstance(plan.get("summary"), dict) else {}
    return any(int(v or 0) for k, v in summary.items() if k != "noop" and isinstance(v, int))


def _refusals(plan: dict[str, Any]) -> list[str]:
    """Findings saying apply's policy would refuse (protect, max_deletes) without
    --allow-destroy, as messages."""
    messages = []
    holders = [a for a in plan.get("agents", []) if isinstance(a, dict)] or [plan]
    for holder in holders:
        for finding in holder.get("findings", []) or []:
            if not isinstance(finding, dict):
                continue
            code = str(finding.get("code", ""))
            if code in DESTROY_CODES:
                messages.append(str(finding.get("message", code)))
    return messages


def plan_result(plan_path: Path, environment: str, code: int, allow_destroy: bool) -> Outcome:
    """What `kbctl plan --out PLAN --detailed-exitcode` concluded."""
    plan = _load(plan_path)
    if plan is not None and plan.get("environment") not in (None, environment):
        plan = None
    if code == 5:
        return Outcome("refused", False, "apply's policy would refuse this plan", True)
    if plan is None:
        if code in (0, 2):
            return Outcome(
                "error",
                False,
                f"kbctl exited {code} without writing a plan: the command line was not "
                "accepted (check the args input)",
            )
        return Outcome("error", False, f"kbctl plan failed (exit {code})")
    changes = _has_changes(plan)
    if code not in (0, 2):
        return Outcome("failing", False, f"the plan predicts that apply fails (exit {code})")
    if (code == 2) != changes:
        return Outcome(
            "error",
            False,
            f"kbctl exited {code} but its plan says has_changes={str(changes).lower()}",
        )
    refusals = [] if allow_destroy else _refusals(plan)
    if refusals:
        return Outcome("refused", False, "; ".join(refusals), True)
    if changes:
        return Outcome("changes", True, "the plan has changes", True)
    return Outcome("no-changes", True, "no changes")


def read_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The JSON events among `lines` (anything else is skipped)."""
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            yield event


def apply_result(events_path: Path, code: int, command: str) -> Outcome:
    """What `kbctl apply|rollback --json` concluded."""
    try:
        events = list(read_events(events_path.read_text(encoding="utf-8").splitlines()))
    except OSError:
        events = []
    errors = [e for e in events if e["event"] == "error"]
    if code == 0 and not errors and events:
        return Outcome("applied", True, f"{command} finished", True)
    if code == 0 and not events:
        return Outcome("error", False, f"kbctl {command} exited 0 without reporting anything")
    if code == 0:
        return Outcome("error", False, str(errors[-1].get("message") or "an error event"))
    detail = str(errors[-1].get("summary") or errors[-1].get("message") or "") if errors else ""
    return Outcome("error", False, detail or f"kbctl {command} failed (exit {code})")


def _agent(event: dict[str, Any]) -> str:
    agent = event.get("agent_id")
    return f"[{agent}] " if agent else ""


def describe(event: dict[str, Any]) -> str | None:
    """One line for a person, or None for events too small to show."""
    kind = event["event"]
    who = _agent(event)
    if kind == "plan_started":
        counts = ", ".join(
            f"{event[name]} to {name}"
            for name in ("create", "replace", "update", "delete")
            if isinstance(event.get(name), int) and event[name]
        )
        return f"{who}planned: {counts or 'nothing to change'}"
    if kind == "phase_started":
        total = event.get("total")
        return f"{who}{event.get('phase', '?')}: {total} item(s)" if total else None
    if kind == "document_created":
        verb = "reused" if event.get("reused") else "uploaded"
        return f"{who}  {verb} {event.get('key', '?')}"
    if kind == "index_progress":
        status = event.get("status")
        if status in ("succeeded", "failed", "rag_limit_exceeded", "cannot_index_folder"):
            return f"{who}  index {status}: {event.get('key', '?')}"
        return None
    if kind == "gate_passed":
        return f"{who}index gate passed ({event.get('indexed', 0)} indexed)"
    if kind == "checks_finished":
        return (
            f"{who}retrieval checks ({event.get('stage', '')}): "
            f"{event.get('passed', 0)}/{event.get('total', 0)} passed"
        )
    if kind == "agent_updated":
        return f"{who}agent updated (version {event.get('version_id', '?')})"
    if kind == "document_deleted":
        return f"{who}  deleted {event.get('key') or event.get('id', '?')}"
    if kind in ("warning", "note"):
        return f"{who}{kind}: {event.get('message', '')}"
    if kind == "finished":
        seconds = event.get("seconds")
        took = f" in {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
        return f"{who}done{took}: {event.get('summary', '')}"
    if kind == "run_finished":
        return f"finished: {event.get('summary', '')}"
    if kind == "error":
        return f"{who}error: {event.get('summary') or event.get('message', '')}"
    return None


def progress(source: TextIO, sink: TextIO) -> None:
    """Copy nothing but human lines for the JSON events read from `source`."""
    for event in read_events(source):
        line = describe(event)
        if line is not None:
            sink.write(line + "\n")
            sink.flush()


def apply_summary(path: Path) -> str:
    """What `kbctl apply/rollback --json` did, for the step summary (empty without events)."""
    try:
        events = list(read_events(path.read_text(encoding="utf-8").splitlines()))
    except OSError:
        events = []
    if not events:
        return ""
    lines: list[str] = []
    for event in events:
        if event["event"] == "note" and event.get("message"):
            lines += [str(event["message"]), ""]
        elif event["event"] == "run_finished":
            seconds = event.get("seconds")
            took = f" in {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
            lines.append(f"**{event.get('summary', 'done')}**{took}")
            lines.append("")
    finished = [e for e in events if e["event"] == "finished"]
    if finished:
        lines += ["| agent | result |", "| --- | --- |"]
        for event in finished:
            summary = str(event.get("summary", "")).replace("|", "\\|")
            lines.append(f"| `{event.get('agent_id', '?')}` | {summary} |")
        lines.append("")
    warnings = [e for e in events if e["event"] == "warning"]
    if warnings:
        lines.append("Warnings:")
        lines.append("")
        lines += [f"- `{e.get('agent_id', '?')}`: {e.get('message', '')}" for e in warnings]
        lines.append("")
    return "\n".join(lines) + "\n" if lines else ""
