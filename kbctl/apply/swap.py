"""The agent side of apply: the array and RAG fields one PATCH writes, and the checks around it.

Owns what is compared before the PATCH (has someone else changed the agent since the plan?) and
after it (does the agent read back as written?), and the version description. Pure functions
over plan and model values: the executor does the calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kbctl.errors import ApplyError, ConcurrentChangeError, VerificationError
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


def description(plan: AgentPlan) -> str:
    """The agent version's description, e.g. `kbctl apply birby/staging: +2 ±1 -1`."""
    s = plan.summary
    removed = sum(1 for d in plan.deletions if d.reason != "replaced")  # ± covers the others
    counts = (("+", s.create), ("±", s.replace), ("~", s.update), ("-", removed))
    parts = [f"{symbol}{count}" for symbol, count in counts if count]
    if plan.rag_changes:
        parts.append("rag")
    return f"kbctl apply {plan.project}/{plan.environment}: {' '.join(parts) or 'no changes'}"


def check_unchanged(plan: AgentPlan, planned: LiveAgent, current: LiveAgent, uploaded: int) -> None:
    """Raise ConcurrentChangeError when the agent moved since the plan was made."""
    if current.knowledge_base == planned.knowledge_base and current.rag == planned.rag:
        return
    left = (
        f" The {uploaded} document(s) this run uploaded or reused stay as managed orphans; the "
        "next apply reuses them (no second upload, no second index)."
        if uploaded
        else ""
    )
    raise ConcurrentChangeError(
        f"The agent {plan.agent_id} was changed by someone else during apply",
        detail=(
            "Its knowledge_base or RAG settings differ from when the plan was made, so kbctl did "
            "not write to it." + left
        ),
        hint="Run kbctl plan to see the new state, then kbctl apply again.",
    )


def verify(
    plan: AgentPlan, readback: LiveAgent, entries: tuple[KbEntry, ...], rag: RagSettings | None
) -> None:
    """Raise VerificationError when the agent read back is not what was written."""
    # Names are left out on purpose: the API may rewrite a locator's name (reference §14.7).
    want = sorted((e.id, e.usage_mode.value) for e in entries)
    got = sorted((e.id, e.usage_mode.value) for e in readback.knowledge_base)
    problems: list[str] = []
    if want != got:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        dupes = len(got) - len(set(got))
        problems.append(
            f"knowledge_base differs: missing {missing or 'none'}, unexpected {extra or 'none'}"
            + (f", {dupes} duplicate(s)" if dupes else "")
        )
    for name, value in rag.items() if rag is not None else ():
        if getattr(readback.rag, name) != value:
            problems.append(f"rag.{name} is {getattr(readback.rag, name)!r}, not {value!r}")
    if problems:
        raise VerificationError(
            f"The agent {plan.agent_id}, read back after the update, is not what kbctl wrote",
            detail="\n".join(problems),
            hint=(
                "Superseded documents were not deleted. Check the agent in the dashboard, then "
                "run kbctl plan and apply again."
            ),
        )
