"""A plan as Markdown for a sticky pull-request comment.

Layout: a hidden marker `<!-- kbctl-plan:<environment> -->` (so a workflow finds and updates
its own comment), the headline, a summary table per agent, the findings, then one collapsed
`<details>` block per agent with its changes and, for each replaced text document, a nested
collapsed ```diff block (each cut after `DIFF_LINES` lines, with a count of the hidden ones).
GitHub refuses comments over 65,536 characters, so the result always stays under `limit`: diff
blocks, then detail rows, then findings, then agent rows are cut
(largest prefix that fits, found by bisection) with a line saying how many are not shown and
that the JSON plan artifact has them all. The marker, headline and table header always stay.
Pure: returns a string.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from kbctl.plan.types import AgentPlan, Finding, Plan, ReplaceDocument, Severity
from kbctl.render.format import (
    change_details,
    change_symbol,
    cleanup_line,
    extras_line,
    findings_counts,
    is_shown,
    plan_headline,
    plural,
    rag_value,
    scope_lines,
)
from kbctl.wording import common

__all__ = ["DIFF_LINES", "render_plan_markdown", "sticky_marker"]

#: Diff lines shown per document in the comment; the JSON plan has them all.
DIFF_LINES = 60

ARTIFACT = (
    "the JSON plan (`kbctl plan --out plan.json`; the plan workflow uploads it as an artifact)"
)
_ICONS = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}
_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
_CUT_NOTE = 200  # room kept for the last-resort truncation note


def sticky_marker(environment: str) -> str:
    """The hidden line a workflow searches for to update its comment instead of adding one."""
    return f"<!-- kbctl-plan:{environment} -->"


def render_plan_markdown(plan: Plan, *, limit: int = 65_000) -> str:
    """The comment, always shorter than `limit` characters."""
    parts = _Parts.of(plan)
    text = parts.compose(_Caps(None, None, None))
    if len(text) < limit:
        return text
    stages: tuple[tuple[int, Callable[[int], _Caps]], ...] = (
        (sum(len(d) for d in parts.diffs), lambda n: _Caps(None, None, None, n)),
        (sum(len(rows) for _, rows in parts.details), lambda n: _Caps(n, None, None, 0)),
        (len(parts.findings), lambda n: _Caps(0, n, None, 0)),
        (len(parts.agents), lambda n: _Caps(0, 0, n, 0)),
    )
    for total, caps in stages:
        best = _largest_fitting(parts, caps, total, limit)
        if best is not None:
            return best
    text = parts.compose(_Caps(0, 0, 0, 0))
    cut = text[: max(limit - _CUT_NOTE, 0)]
    return cut + f"\n\n_… cut to fit a comment: see {ARTIFACT}._\n"


# --------------------------------------------------------------------------------------------
# Fitting


@dataclass(frozen=True, slots=True)
class _Caps:
    """How many detail rows, findings, agent rows and diff blocks to show (None: all)."""

    rows: int | None
    findings: int | None
    agents: int | None
    diffs: int | None = None


def _largest_fitting(
    parts: _Parts, caps: Callable[[int], _Caps], total: int, limit: int
) -> str | None:
    """The text for the largest n in [0, total] that fits under `limit`, or None."""
    best: str | None = None
    low, high = 0, total
    while low <= high:
        mid = (low + high) // 2
        text = parts.compose(caps(mid))
        if len(text) < limit:
            best, low = text, mid + 1
        else:
            high = mid - 1
    return best


# --------------------------------------------------------------------------------------------
# Composition


@dataclass(frozen=True, slots=True)
class _Row:
    section: str  # "changes" | "rag" | "orphans" | "unmanaged"
    line: str


@dataclass(frozen=True, slots=True)
class _Parts:
    """Every piece of the comment, rendered once; `compose` only picks how many to show."""

    head: list[str]
    agents: list[str]  # summary table rows
    findings: list[str]
    details: list[tuple[AgentPlan, list[_Row]]]
    diffs: list[list[str]]  # per agent (same order): one collapsed diff block per document
    reindex: bool  # a `reindex` column in the summary table (only when something re-indexes)
    noun: str  # what the table's rows are: agent, vector store (or both)

    @classmethod
    def of(cls, plan: Plan) -> _Parts:
        head = [
            sticky_marker(plan.environment),
            f"### kbctl plan for `{_inline(plan.environment)}`" + _read_from(plan),
            "",
            f"**{plan_headline(plan)}**",
        ]
        for line in scope_lines(plan):
            head += ["", f"⚠️ **{_inline(line)}**"]
        extras = extras_line(plan.agents)
        if extras and plan.has_changes:
            head += ["", extras]
        cleanup = cleanup_line(plan)
        if cleanup:
            head += ["", cleanup]
        errors = sum(1 for a in plan.agents for f in a.findings if f.severity is Severity.ERROR)
        if errors:
            head += [
                "",
                f"❌ **{plural(errors, 'error')}**: apply will refuse or stop until resolved.",
            ]
        agents = []
        reindex = plan.summary.reindex > 0
        for agent in plan.agents:
            s = agent.summary
            agents.append(
                f"| {_cell(_code(agent.agent_id))} · {_cell(_code(agent.manifest))} | {s.create} | "
                f"{s.replace} | {s.update} | {s.delete} | "
                + (f"{s.reindex} | " if reindex else "")
                + f"{s.noop} | {_counts(agent)} |"
            )
        ranked = sorted(
            ((a, f) for a in plan.agents for f in a.findings), key=lambda af: _RANK[af[1].severity]
        )
        findings = [_finding(a, f) for a, f in ranked]
        diffs = [_diff_blocks(a) for a in plan.agents]
        noun = common(a.provider for a in plan.agents).noun
        details = [(a, _rows(a)) for a in plan.agents]
        return cls(head, agents, findings, details, diffs, reindex, noun)

    def compose(self, caps: _Caps) -> str:
        lines = [
            *self.head,
            "",
            f"| {self.noun} | create | replace | update | delete | "
            + ("reindex | " if self.reindex else "")
            + "unchanged | findings |",
            "| --- | ---: | ---: | ---: | ---: | "
            + ("---: | " if self.reindex else "")
            + "---: | --- |",
        ]
        agents = _first(self.agents, caps.agents)
        lines += agents
        hidden = len(self.agents) - len(agents)
        if hidden:
            lines += ["", f"_… {plural(hidden, 'more ' + self.noun)} not shown._"]
        if self.findings:
            shown = _first(self.findings, caps.findings)
            lines += ["", "#### Findings", "", *shown]
            if len(shown) < len(self.findings):
                missing = len(self.findings) - len(shown)
                hidden += missing
                lines.append(f"- _… {plural(missing, 'more finding')} not shown._")
        budget, diff_budget = caps.rows, caps.diffs
        hidden_diffs = 0
        for (agent, rows), blocks in zip(self.details[: len(agents)], self.diffs, strict=False):
            take = len(rows) if budget is None else min(budget, len(rows))
            if budget is not None:
                budget -= take
            hidden += len(rows) - take
            shown = blocks if diff_budget is None else blocks[:diff_budget]
            if diff_budget is not None:
                diff_budget -= len(shown)
            hidden_diffs += len(blocks) - len(shown)
            lines += ["", *_details(agent, rows, take, shown)]
        if hidden_diffs:
            lines += ["", f"_{plural(hidden_diffs, 'content diff')} not shown: see {ARTIFACT}._"]
        if hidden:
            lines += ["", f"_Some of the plan is not shown to fit a comment: see {ARTIFACT}._"]
        return "\n".join(lines) + "\n"


def _first(items: list[str], cap: int | None) -> list[str]:
    return items if cap is None else items[:cap]


_NOUNS = {
    "changes": "change",
    "rag": "RAG setting",
    "orphans": "orphan",
    "unmanaged": "unmanaged document",
}
_SECTIONS = {
    "changes": ("Changes", "| | key | action | details |"),
    "rag": ("RAG settings", "| setting | before | after |"),
    "orphans": ("Orphans (managed, not attached)", "| id | key | hash | fate |"),
    "unmanaged": ("Unmanaged (kept as is)", "| id | name | type | usage_mode |"),
}


def _rows(agent: AgentPlan) -> list[_Row]:
    """Every detail row of an agent, in the order they are shown."""
    rows = [
        _row(
            "changes",
            (
                _code(change_symbol(c)),
                _code(c.key),
                c.action.value,
                _inline("; ".join(change_details(c, agent.embedding_model))),
            ),
        )
        for c in agent.changes
        if is_shown(c)
    ]
    rows += [
        _row("rag", (_code(r.field), _code(rag_value(r.before)), _code(rag_value(r.after))))
        for r in agent.rag_changes
    ]
    rows += [
        _row(
            "orphans",
            (
                _code(o.id),
                _code(o.key),
                _code(o.hash12),
                "reused" if o.fate == "reuse" else "delete",
            ),
        )
        for o in agent.orphans
    ]
    rows += [
        _row("unmanaged", (_code(e.id), _inline(e.name), e.doc_type.value, e.usage_mode.value))
        for e in agent.unmanaged
    ]
    return rows


def _row(section: str, cells: tuple[str, ...]) -> _Row:
    return _Row(section, "| " + " | ".join(_cell(c) for c in cells) + " |")


def _read_from(plan: Plan) -> str:
    endpoints = list(dict.fromkeys(a.endpoint for a in plan.agents if a.endpoint))
    return f" (read from {', '.join(_code(e) for e in endpoints)})" if endpoints else ""


def _diff_blocks(agent: AgentPlan) -> list[str]:
    """One collapsed ```diff block per replaced document that carries a diff."""
    blocks = []
    for change in agent.changes:
        if not isinstance(change, ReplaceDocument) or not change.diff:
            continue
        lines = change.diff.splitlines()
        shown = lines[:DIFF_LINES]
        if len(lines) > DIFF_LINES:
            shown.append(f"… {plural(len(lines) - DIFF_LINES, 'more diff line')} hidden")
        body = "\n".join(shown)
        fence = "```"
        while fence in body:
            fence += "`"
        blocks.append(
            f"<details>\n<summary>diff <code>{html.escape(change.key)}</code></summary>\n\n"
            f"{fence}diff\n{body}\n{fence}\n\n</details>"
        )
    return blocks


def _details(agent: AgentPlan, rows: list[_Row], take: int, diffs: list[str]) -> list[str]:
    shown_changes = sum(1 for r in rows if r.section == "changes")
    summary = (
        f"<code>{html.escape(agent.agent_id)}</code> · {html.escape(agent.manifest)} · "
        f"{plural(shown_changes, 'change')}"
    )
    lines: list[str | None] = ["<details>", f"<summary>{summary}</summary>", ""]
    if not rows:
        lines += ["No changes.", ""]
    section = ""
    for row in rows[:take]:
        if row.section != section:
            title, header = _SECTIONS[row.section]
            columns = header.count("|") - 1
            lines += ["" if section else None, f"**{title}**", "", header, "|" + " --- |" * columns]
            section = row.section
        lines.append(row.line)
    if take < len(rows):
        hidden = Counter(r.section for r in rows[take:])
        what = ", ".join(plural(n, _NOUNS[sec]) for sec, n in hidden.items())
        lines += ["", f"_… not shown: {what}; the JSON plan artifact has them all._"]
    if take:
        lines.append("")
    for block in diffs:
        lines += [block, ""]
    lines.append("</details>")
    return [line for line in lines if line is not None]


def _finding(agent: AgentPlan, finding: Finding) -> str:
    where = _code(agent.agent_id)
    return f"- {_ICONS[finding.severity]} **{finding.code}** · {where}: {_inline(finding.message)}"


def _counts(agent: AgentPlan) -> str:
    counts = findings_counts(agent)
    parts = [f"{_ICONS[sev]} {n}" for sev, n in counts.items() if n]
    return " · ".join(parts) if parts else "—"


# --------------------------------------------------------------------------------------------
# Escaping


def _code(text: str) -> str:
    """An inline code span that survives backticks and newlines in the text."""
    text = text.replace("\n", "␤")
    if "`" in text:
        return f"`` {text} ``"
    return f"`{text}`"


def _inline(text: str) -> str:
    """Plain text that cannot open HTML tags or break the line."""
    return html.escape(text.replace("\n", "␤"), quote=False)


def _cell(text: str) -> str:
    """Table cells: a pipe would end the cell, even inside a code span."""
    return text.replace("|", "\\|")
