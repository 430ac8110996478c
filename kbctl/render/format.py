"""Wording shared by the plan renderers: summary sentences and one-line change details.

Plain strings only (no rich, no Markdown), so the text and Markdown renderers say the same
thing in the same words.
"""

from __future__ import annotations

from typing import assert_never

from kbctl.plan.types import Action, AgentPlan, DocumentChange, Plan, Severity, Summary
from kbctl.plan.units import format_size
from kbctl.wording import NO_CHANGES, common
from kbctl.wording import no_changes as nothing_to_do

__all__ = [
    "NO_CHANGES",
    "change_details",
    "change_symbol",
    "cleanup_line",
    "extras_line",
    "findings_counts",
    "format_size",
    "is_shown",
    "no_changes",
    "plan_headline",
    "plural",
    "rag_value",
    "summary_line",
]

_HASH = 12


def summary_line(summary: Summary) -> str:
    """`Plan: N to create, N to replace, N to update, N to delete, N unchanged.` (with
    `N to reindex` before `unchanged` when there are any)."""
    reindex = f"{summary.reindex} to reindex, " if summary.reindex else ""
    return (
        f"Plan: {summary.create} to create, {summary.replace} to replace, "
        f"{summary.update} to update, {summary.delete} to delete, {reindex}"
        f"{summary.noop} unchanged."
    )


def extras_line(agents: tuple[AgentPlan, ...]) -> str | None:
    """What apply does beyond the counted changes (RAG settings, orphans), or None."""
    rag = sum(len(a.rag_changes) for a in agents)
    orphans = sum(1 for a in agents for o in a.orphans if o.fate == "delete")
    parts = []
    if rag:
        parts.append(f"{plural(rag, 'RAG setting')} to change")
    if orphans:
        parts.append(f"{plural(orphans, 'orphan')} to delete")
    return "Also: " + ", ".join(parts) + "." if parts else None


def cleanup_line(plan: Plan) -> str | None:
    """Pending cleanup when nothing else changes: orphans apply deletes (not drift)."""
    if plan.has_changes or not plan.has_cleanup:
        return None
    count = sum(len(a.cleanup) for a in plan.agents)
    return (
        f"Pending cleanup: {plural(count, 'orphan')} to delete (kbctl apply does it; "
        "not counted as a change)."
    )


def plan_headline(plan: Plan) -> str:
    """The final sentence: the summary, or that nothing changes."""
    return summary_line(plan.summary) if plan.has_changes else no_changes(plan)


def no_changes(plan: Plan) -> str:
    """That nothing changes: `NO_CHANGES`, or for vector stores, that their files match."""
    return nothing_to_do(common(a.provider for a in plan.agents))


def is_shown(change: DocumentChange) -> bool:
    """Renderers list changes that do something: anything but a noop."""
    return change.action is not Action.NOOP


def change_symbol(change: DocumentChange) -> str:
    """`+ ~ - ±`, or `↻` for an unchanged document that only needs a new index."""
    return change.action.symbol


def change_details(change: DocumentChange, model: str) -> list[str]:
    """What happens to the document, in short phrases (joined by the renderer)."""
    out: list[str] = []
    match change.action:
        case Action.CREATE:
            out.append(_kind(change))
            if change.content_hash:
                out.append(change.content_hash[:_HASH])
        case Action.REPLACE:
            out += [_field(f.field, f.before, f.after) for f in change.fields]
            out.append(_size(change))
        case Action.UPDATE:
            renamed = any(f.field == "key" for f in change.fields)
            out += [
                _field(f.field, f.before, f.after)
                for f in change.fields
                if not (renamed and f.field == "name")
            ]
        case Action.DELETE:
            return [*change.notes, f"{change.live_id}, {_size(change)}"]
        case Action.REINDEX:
            out.append(f"unchanged, needs a new index for {model}")
        case Action.NOOP:
            out.append("unchanged")
        case _:
            assert_never(change.action)
    out += list(change.notes)
    if change.needs_index and change.action is not Action.REINDEX:
        out.append("needs index")
    return out


def findings_counts(agent: AgentPlan) -> dict[Severity, int]:
    """How many findings of each severity."""
    counts = dict.fromkeys(Severity, 0)
    for finding in agent.findings:
        counts[finding.severity] += 1
    return counts


def rag_value(value: object) -> str:
    """A RAG setting's value as the manifest spells it; None is the API's default."""
    if value is None:
        return "(default)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def plural(n: int, noun: str) -> str:
    """`1 document`, `2 documents`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _kind(change: DocumentChange) -> str:
    mode = change.usage_mode.value if change.usage_mode is not None else "?"
    return f"{change.doc_type.value}, {mode}, {_size(change)}"


def _size(change: DocumentChange) -> str:
    return "size unknown" if change.size_bytes is None else format_size(change.size_bytes)


def _field(name: str, before: str | None, after: str | None) -> str:
    label = "content" if name == "content_hash" else name
    if name == "content_hash" and before == after:
        before = "edited in place"  # the marker still names the declared content
    return (
        f"{label}: {before if before is not None else '∅'} → {after if after is not None else '∅'}"
    )


def scope_lines(plan: Plan) -> list[str]:
    """What a targeted run covers, said plainly (nothing for a plain plan)."""
    scope = plan.scope
    out: list[str] = []
    if scope.partial:
        out.append(
            "Partial plan: only documents matching --target "
            + ", ".join(scope.targets)
            + f". Every other entry of {common(a.provider for a in plan.agents).the} stays "
            "exactly as it is live, and RAG settings are not changed."
        )
    if scope.replace_all:
        out.append("--replace-all: every planned document is uploaded and indexed again.")
    elif scope.replace:
        out.append(
            "--replace: uploaded and indexed again even if unchanged: " + ", ".join(scope.replace)
        )
    return out
