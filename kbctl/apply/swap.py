"""The agent side of apply: the array and RAG fields one PATCH writes, and the checks around it.

Owns what is compared (each entry's id, type and usage mode, never its name, plus RAG), the
check before the PATCH (has someone else changed the agent since the plan?) and the version
description. Pure functions over plan and model values: the executor does the calls, and
`kbctl.apply.verification` checks the agent after the PATCH.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from kbctl.errors import ApplyError, ConcurrentChangeError
from kbctl.model import KbEntry, LiveAgent, RagSettings
from kbctl.plan.types import AgentPlan


def target_entries(plan: AgentPlan, ids_by_key: Mapping[str, str]) -> tuple[KbEntry, ...]:
    """The complete `knowledge_base` array, with the ids apply created or reused filled in."""
    out: list[KbEntry] = []
    for entry in plan.knowledge_base:
        doc_id = (ids_by_key.get(entry.key) if entry.key is not None else None) or entry.id
        if doc_id is None:
            raise ApplyError(
                f"No document holds {entry.key} after the uploads",
                hint="Run kbctl apply again; if it persists, report it.",
            )
        out.append(KbEntry(doc_id, entry.name, entry.doc_type, entry.usage_mode))
    return tuple(out)


def rag_update(plan: AgentPlan) -> RagSettings | None:
    """Only the RAG fields that change (None when none does): the PATCH merges objects."""
    if not plan.rag_changes:
        return None
    # The planner emits RagSettings field names only, each with a value of that field's type.
    changes: dict[str, Any] = {c.field: c.after for c in plan.rag_changes}
    return replace(RagSettings(), **changes)


def description(plan: AgentPlan, run_id: str | None = None, commit: str | None = None) -> str:
    """The agent version's description, e.g. `kbctl apply birby/staging: +2 -1 (run 3f2a9c1e)`.

    The run id is the one its lease shows (and the commit, when known), so a version names the
    run that wrote it: in the dashboard, and to a run that lost a race to it."""
    s = plan.summary
    removed = sum(1 for d in plan.deletions if d.reason != "replaced")  # ± covers the others
    counts = (("+", s.create), ("±", s.replace), ("~", s.update), ("-", removed))
    parts = [f"{symbol}{count}" for symbol, count in counts if count]
    if plan.rag_changes:
        parts.append("rag")
    who = [f"run {run_id}"] if run_id else []
    who += [f"commit {commit[:12]}"] if commit else []
    run = f" ({', '.join(who)})" if who else ""
    return f"kbctl apply {plan.project}/{plan.environment}: {' '.join(parts) or 'no changes'}{run}"


def shape(entries: Iterable[KbEntry]) -> tuple[tuple[str, str, str], ...]:
    """What kbctl compares in an agent's array: each entry's id, type and usage mode, sorted.

    Names are left out on purpose: the API may rewrite the name stored in an agent's array after
    a document is renamed (reference §14.7, §16.3), which is no change of what the agent uses.
    """
    return tuple(sorted((e.id, e.doc_type.value, e.usage_mode.value) for e in entries))


def same_agent(a: LiveAgent, b: LiveAgent) -> bool:
    """True when both agents use the same documents the same way, with the same RAG settings."""
    return shape(a.knowledge_base) == shape(b.knowledge_base) and a.rag == b.rag


def check_unchanged(
    plan: AgentPlan,
    planned: LiveAgent,
    current: LiveAgent,
    uploaded: int,
    writer: Callable[[LiveAgent], str] = lambda agent: "",
) -> None:
    """Raise ConcurrentChangeError when the agent moved since the plan was made.

    `writer` tells who wrote an agent's version (asked only when raising)."""
    if same_agent(planned, current):
        return
    left = (
        f" The {uploaded} document(s) this run uploaded or reused stay as managed orphans; the "
        "next apply reuses them (no second upload, no second index)."
        if uploaded
        else ""
    )
    raise ConcurrentChangeError(
        f"The {plan.words.label(plan.agent_id)} was changed by someone else during apply",
        detail=(
            "Its knowledge_base or RAG settings differ from when the plan was made, so kbctl did "
            "not write to it." + _version_note(planned, current) + writer(current) + left
        ),
        hint="Run kbctl plan to see the new state, then kbctl apply again.",
    )


def _version_note(planned: LiveAgent, current: LiveAgent) -> str:
    if current.version_id is None or current.version_id == planned.version_id:
        return ""
    return f" The agent is now version {current.version_id} (was {planned.version_id})."
