"""The agent side of apply: the array and RAG fields one PATCH writes, and the checks around it.

Owns what is compared before the PATCH (has someone else changed the agent since the plan?) and
after it (does the agent read back as written?), and the version description. Pure functions
over plan and model values: the executor does the calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
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


def shape(entries: Iterable[KbEntry]) -> tuple[tuple[str, str, str], ...]:
    """What kbctl compares in an agent's array: each entry's id, type and usage mode, sorted.

    Names are left out on purpose: the API may rewrite the name stored in an agent's array after
    a document is renamed (reference §14.7, §16.3), which is no change of what the agent uses.
    """
    return tuple(sorted((e.id, e.doc_type.value, e.usage_mode.value) for e in entries))


def same_agent(a: LiveAgent, b: LiveAgent) -> bool:
    """True when both agents use the same documents the same way, with the same RAG settings."""
    return shape(a.knowledge_base) == shape(b.knowledge_base) and a.rag == b.rag


def check_unchanged(plan: AgentPlan, planned: LiveAgent, current: LiveAgent, uploaded: int) -> None:
    """Raise ConcurrentChangeError when the agent moved since the plan was made."""
    if same_agent(planned, current):
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
            "not write to it." + _version_note(planned, current) + left
        ),
        hint="Run kbctl plan to see the new state, then kbctl apply again.",
    )


def differences(
    agent: LiveAgent, entries: tuple[KbEntry, ...], rag: RagSettings | None
) -> list[str]:
    """How `agent` differs from the array and RAG fields kbctl wrote (empty: it does not)."""
    want, got = shape(entries), shape(agent.knowledge_base)
    problems: list[str] = []
    if want != got:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        dupes = len(got) - len(set(got))
        problems.append(
            f"knowledge_base differs: missing {_ids(missing)}, unexpected {_ids(extra)}"
            + (f", {dupes} duplicate(s)" if dupes else "")
        )
    for name, value in rag.items() if rag is not None else ():
        if getattr(agent.rag, name) != value:
            problems.append(f"rag.{name} is {getattr(agent.rag, name)!r}, not {value!r}")
    return problems


def verify(
    plan: AgentPlan,
    written: LiveAgent,
    entries: tuple[KbEntry, ...],
    rag: RagSettings | None,
    reread: Callable[[], LiveAgent],
) -> None:
    """Check the agent as the PATCH answered it; read it again only when that answer differs.

    A re-read showing another version than the PATCH made means someone wrote after kbctl: that
    is a lost race (ConcurrentChangeError, exit 4), not a failed write.

    Raises:
        ConcurrentChangeError: the re-read agent is another version, not what kbctl wrote.
        VerificationError: the agent kbctl's own write produced is not what it sent.
    """
    if not differences(written, entries, rag):
        return
    readback = reread()
    problems = differences(readback, entries, rag)
    if not problems:
        return
    if _other_version(written, readback):
        raise overwritten(plan, written, readback, problems, deleted=False)
    raise VerificationError(
        f"The agent {plan.agent_id}, read back after the update, is not what kbctl wrote",
        detail="\n".join(problems),
        hint=(
            "Superseded documents were not deleted. Check the agent in the dashboard, then "
            "run kbctl plan and apply again."
        ),
    )


def overwritten(
    plan: AgentPlan,
    written: LiveAgent,
    current: LiveAgent,
    problems: list[str],
    *,
    deleted: bool,
) -> ConcurrentChangeError:
    """The exit-4 error of a run whose write was replaced by someone else's (it lost the race)."""
    done = (
        "Superseded documents were deleted only where nothing used them any more."
        if deleted
        else "Superseded documents were not deleted."
    )
    return ConcurrentChangeError(
        f"The agent {plan.agent_id} was changed by someone else after kbctl updated it",
        detail="\n".join(
            [
                f"kbctl wrote version {written.version_id or '(unknown)'}; the agent now is "
                f"version {current.version_id or '(unknown)'}, written after it.",
                *problems,
                done,
            ]
        ),
        hint=(
            "Another run (or a person in the dashboard) won the race: its state is the live one. "
            "Run kbctl plan to see it, then kbctl apply again if the manifest should win."
        ),
    )


def _other_version(written: LiveAgent, current: LiveAgent) -> bool:
    """True unless both are known to be the same agent version."""
    return written.version_id is None or written.version_id != current.version_id


def _version_note(planned: LiveAgent, current: LiveAgent) -> str:
    if current.version_id is None or current.version_id == planned.version_id:
        return ""
    return f" The agent is now version {current.version_id} (was {planned.version_id})."


def _ids(items: list[tuple[str, str, str]]) -> str:
    return ", ".join(f"{i} ({t}, {m})" for i, t, m in items) or "none"
