"""A plan as Terraform-like text for the terminal: one line per change, then the totals once.

Returns a `rich.text.Text` with colours as styles; the CLI decides whether the terminal gets
them (`Text.plain` is the colourless form the golden files hold). Never prints.
"""

from __future__ import annotations

from rich.text import Text

from kbctl.plan.types import Action, AgentPlan, DocumentChange, Plan, ReplaceDocument, Severity
from kbctl.render.format import (
    change_details,
    change_symbol,
    cleanup_line,
    extras_line,
    is_shown,
    plan_headline,
    plural,
    rag_value,
    scope_lines,
)

__all__ = ["DIFF_LINES", "render_plan_text"]

#: Diff lines shown per document; the rest are counted (the JSON plan has them all).
DIFF_LINES = 40

_KEY_WIDTH = 40
_STYLES = {
    Action.CREATE: "green",
    Action.REPLACE: "cyan",
    Action.UPDATE: "yellow",
    Action.DELETE: "red",
    Action.REINDEX: "blue",
    Action.NOOP: "blue",
}
_FINDING = {
    Severity.ERROR: ("✗", "bold red"),
    Severity.WARNING: ("!", "yellow"),
    Severity.INFO: ("·", "dim"),
}


def render_plan_text(plan: Plan) -> Text:
    """The whole plan, agent by agent, ending with the `Plan: …` (or `No changes.`) line."""
    out = Text()
    out.append(f"kbctl plan for environment {plan.environment}", style="bold")
    endpoints = list(dict.fromkeys(a.endpoint for a in plan.agents if a.endpoint))
    if endpoints:
        out.append(f" (read from {', '.join(endpoints)})")
    out.append("\n")
    for line in scope_lines(plan):
        out.append(line + "\n", style="bold yellow")
    if not plan.agents:
        out.append("\nNo manifest declares this environment.\n")
    for agent in plan.agents:
        out.append("\n")
        _agent(out, agent)
    out.append("\n")
    errors = sum(1 for a in plan.agents for f in a.findings if f.severity is Severity.ERROR)
    if errors:
        out.append(
            f"✗ {plural(errors, 'error')} above: apply will refuse or stop until resolved.\n",
            style="bold red",
        )
    extras = extras_line(plan.agents)
    if extras and plan.has_changes:
        out.append(extras + "\n")
    cleanup = cleanup_line(plan)
    if cleanup:
        out.append(cleanup + "\n")
    out.append(plan_headline(plan) + "\n", style="bold")
    return out


def _agent(out: Text, agent: AgentPlan) -> None:
    out.append(
        f"{agent.words.title} {agent.agent_id} · environment {agent.environment}"
        f" · manifest {agent.manifest} (project {agent.project})",
        style="bold",
    )
    out.append(f" · embedding model {agent.embedding_model}\n", style="dim")
    shown = [c for c in agent.changes if is_shown(c)]
    width = min(max((len(c.key) for c in shown), default=0), _KEY_WIDTH)
    for change in shown:
        _change(out, change, width, agent.embedding_model)
    for rag in agent.rag_changes:
        out.append("  ~ ", style="yellow")
        out.append(f"rag.{rag.field}: {rag_value(rag.before)} → {rag_value(rag.after)}\n")
    if not shown and not agent.rag_changes:
        out.append("  No changes.\n", style="dim")
    if agent.orphans:
        out.append("  Orphans (managed, not attached):\n")
        for o in agent.orphans:
            fate = "reused, no upload" if o.fate == "reuse" else "to delete"
            out.append(f"    {o.id}  {o.key}  {o.hash12}  {fate}\n")
    if agent.unmanaged:
        out.append("  Unmanaged (kept as is):\n")
        for e in agent.unmanaged:
            out.append(f"    {e.id}  {e.name}  ({e.doc_type.value}, {e.usage_mode.value})\n")
    if agent.findings:
        out.append("  Findings:\n")
        for finding in agent.findings:
            mark, style = _FINDING[finding.severity]
            out.append(f"    {mark} ", style=style)
            out.append(f"{finding.code}: {finding.message}\n")


def _change(out: Text, change: DocumentChange, width: int, model: str) -> None:
    style = _STYLES[change.action]
    out.append(f"  {change_symbol(change)} ", style=style)
    out.append(change.key.ljust(width), style=style)
    label = change.action.value
    out.append(f"  {label:<7}  ")
    out.append("; ".join(change_details(change, model)) + "\n")
    if isinstance(change, ReplaceDocument) and change.diff:
        _diff(out, change.diff)


def _diff(out: Text, diff: str) -> None:
    """The diff under its change, indented, cut after `DIFF_LINES` lines with a count."""
    lines = diff.splitlines()
    for line in lines[:DIFF_LINES]:
        out.append("      ")
        out.append(line + "\n", style=_diff_style(line))
    if len(lines) > DIFF_LINES:
        hidden = len(lines) - DIFF_LINES
        out.append(
            f"      … {plural(hidden, 'more diff line')} hidden (see --format json)\n", style="dim"
        )


def _diff_style(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("@@"):
        return "cyan"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    return ""
