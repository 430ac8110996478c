"""What `kbctl check -e ENV --detailed-exitcode --format json` concluded in the drift job, and its
report in Markdown (the step summary and the drift issue's section for that environment).

The JSON report is the answer, not the exit code alone: exit 3 with a report is `failing` (below
a threshold), exit 0 with a report is `passed` (or `no-checks` when no agent declares any), and
anything else — no report, another exit code — is `error`. Standard library only; it never runs
kbctl.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Failing checks listed per agent in the issue; the rest are counted.
MAX_LISTED = 20


def tail(text: str, lines: int = 40, chars: int = 4_000) -> str:
    """The end of a log: its last `lines` lines, at most `chars` characters."""
    kept = "\n".join(text.rstrip().splitlines()[-lines:])
    return kept[-chars:]


class Forms:
    """A part of a comment or issue body in forms from full to compact (`forms[level]`), so a
    body over GitHub's limit can shrink its parts one step at a time."""

    forms: list[str]
    level: int = 0

    @property
    def text(self) -> str:
        return self.forms[self.level]

    def shrink(self) -> bool:
        """Step to the next shorter form; False when none is shorter."""
        while self.level + 1 < len(self.forms):
            self.level += 1
            if len(self.forms[self.level]) < len(self.forms[self.level - 1]):
                return True
        return False


@dataclass(frozen=True)
class CheckOutcome:
    """One word for the workflow (`status`), whether checks fail, and a sentence for people."""

    status: str  # passed | failing | no-checks | error
    failing: bool
    message: str


def load_report(path: Path) -> dict[str, Any] | None:
    """The `--format json` report, or None when there is none (kbctl failed before it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("agents"), list):
        return None
    return data


def _agents(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in report["agents"] if isinstance(a, dict)]


def _pct(value: object) -> str:
    return f"{float(value) * 100:.0f}%" if isinstance(value, (int, float)) else "?"


def shortfalls(agent: dict[str, Any]) -> list[str]:
    """`Coverage@1 40% < min_coverage_at_1 60%` for each threshold the agent misses."""
    out = []
    pairs = (
        ("coverage_at_k", "min_coverage", "Coverage@k"),
        ("coverage_at_1", "min_coverage_at_1", "Coverage@1"),
    )
    for value, limit, label in pairs:
        if isinstance(agent.get(limit), (int, float)) and agent.get(value, 1) < agent[limit]:
            out.append(f"{label} {_pct(agent.get(value))} < {limit} {_pct(agent[limit])}")
    return out


def check_result(report_path: Path, code: int) -> CheckOutcome:
    """What the check run concluded."""
    report = load_report(report_path)
    if report is None:
        return CheckOutcome("error", False, f"kbctl check failed (exit {code}) without a report")
    agents = _agents(report)
    if code == 3:
        lines = [
            f"{a.get('project', '?')}: {'; '.join(shortfalls(a)) or 'below a threshold'}"
            for a in agents
            if a.get("meets") is False
        ]
        return CheckOutcome("failing", True, "; ".join(lines) or "below a threshold")
    if code != 0:
        return CheckOutcome("error", False, f"kbctl check failed (exit {code})")
    if not any(int(a.get("total") or 0) for a in agents):
        return CheckOutcome("no-checks", False, "no retrieval checks are declared")
    return CheckOutcome("passed", False, "every threshold is met")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(environment: str, report_path: Path, code: int, error_tail: str = "") -> str:
    """The environment's section: a status line, per agent the coverages, the failing checks."""
    outcome = check_result(report_path, code)
    marker = f"<!-- kbctl-check:{environment} -->"
    if outcome.status == "error":
        tail = error_tail.replace("```", "'''").strip() or "(no error output)"
        return (
            f"{marker}\n### ❌ {environment}: kbctl check failed (exit {code})\n\n"
            f"```\n{tail}\n```\n"
        )
    if outcome.status == "no-checks":
        return f"{marker}\n### {environment}: no retrieval checks declared\n"
    report = load_report(report_path)
    assert report is not None
    icon = "❌" if outcome.failing else "✅"
    verdict = "below a threshold" if outcome.failing else "pass"
    lines = [f"{marker}\n### {icon} {environment}: retrieval checks {verdict}", ""]
    for agent in _agents(report):
        if not int(agent.get("total") or 0):
            continue
        lines.append(
            f"**{agent.get('project', '?')}** (agent `{agent.get('agent_id', '?')}`, retriever "
            f"{agent.get('retriever', '?')}): {agent.get('passed', 0)}/{agent.get('total', 0)} "
            f"passed, Coverage@1 {_pct(agent.get('coverage_at_1'))}, "
            f"Coverage@k {_pct(agent.get('coverage_at_k'))}"
        )
        missed = shortfalls(agent)
        if missed:
            lines.append("")
            lines.append("Below: " + "; ".join(missed))
        failing = [c for c in agent.get("checks") or [] if isinstance(c, dict) and not c["passed"]]
        not_first = [
            c
            for c in agent.get("checks") or []
            if isinstance(c, dict) and c.get("passed") and c.get("top1") is False
        ]
        rows = failing + not_first
        if rows:
            lines += ["", "| query | expected | found instead |", "| --- | --- | --- |"]
            for check in rows[:MAX_LISTED]:
                found = ", ".join(
                    str(f.get("key") or f.get("label") or f.get("id"))
                    for f in (check.get("found") or [])[:3]
                    if isinstance(f, dict)
                )
                expected = ", ".join(str(e) for e in check.get("expect") or [])
                note = "" if not check.get("passed") else " (not first)"
                lines.append(
                    f"| {_cell(check.get('query', ''))} | {_cell(expected)}{note} | "
                    f"{_cell(found or 'nothing')} |"
                )
            if len(rows) > MAX_LISTED:
                lines.append(f"\n…and {len(rows) - MAX_LISTED} more.")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


class CheckSection(Forms):
    """One environment's check results in the drift issue, in forms from full to compact."""

    def __init__(self, environment: str, out_dir: Path) -> None:
        self.env = environment
        base = out_dir / f"check-{environment}"
        code_text, error = _read(base.with_suffix(".exit")).strip(), _read(base.with_suffix(".err"))
        code = int(code_text) if code_text.lstrip("-").isdigit() else 1
        report = base.with_suffix(".json")
        self.outcome = check_result(report, code)
        full = markdown(environment, report, code, tail(error))
        short = (
            f"<!-- kbctl-check:{environment} -->\n### {environment}: retrieval checks "
            f"{self.outcome.status}\n\n{self.outcome.message}\n"
        )
        self.forms = [full, short]
        self.level = 0
