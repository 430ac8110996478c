"""Targeted runs: `--target KEY`, `--replace KEY` and `--replace-all` over the pure planner.

Owns two rules, both pure:

- forcing: a document whose key `--replace` (or `--replace-all`) names is planned as a
  `replace` with reason `forced` even when its content did not change (a new upload, a new
  index, the swap, the old copy deleted), and no orphan with its content is reused for it;
- narrowing: with `--target`, the plan changes only the documents the patterns match. Every
  other entry of the agent's `knowledge_base` is written back exactly as it is live (same id,
  name, usage mode, position), nothing else is created, replaced, re-indexed or deleted, and the
  RAG settings are not written. Agent-level findings stay; document findings of other keys go.

`make_scoped_plan` is what `kbctl plan` and `kbctl apply` call instead of `make_plan`. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from kbctl.model import LiveState, Target
from kbctl.plan.matching import managed_marker
from kbctl.plan.planner import make_plan
from kbctl.plan.types import (
    AgentPlan,
    DeleteDocument,
    Plan,
    ReplaceDocument,
    ReplaceReason,
    Scope,
    TargetEntry,
)

__all__ = ["FORCED_NOTE", "make_scoped_plan"]

FORCED_NOTE = "forced by --replace: uploaded and indexed again, content unchanged"


def make_scoped_plan(
    environment: str, pairs: Sequence[tuple[Target, LiveState]], scope: Scope
) -> Plan:
    """`make_plan` for the documents `scope` covers (all of them when it is not partial)."""
    forced = [(t, _force(t, live, scope)) for t, live in pairs]
    made = make_plan(environment, forced)
    by_agent = {(t.manifest, t.agent_id): (t, live) for t, live in pairs}
    agents = tuple(_narrow(a, *by_agent[(a.manifest, a.agent_id)], scope) for a in made.agents)
    return replace(made, agents=agents, scope=scope)


def _force(target: Target, live: LiveState, scope: Scope) -> LiveState:
    """Mark the managed documents of forced keys as edited: the planner replaces them."""
    if not scope.replace and not scope.replace_all:
        return live
    ids = {
        doc.id
        for doc in live.documents
        if (marker := managed_marker(target, doc.name, doc.marker)) is not None
        and scope.forced(marker.key)
    }
    if not ids:
        return live
    return replace(live, edited=tuple(sorted(set(live.edited) | ids)))


def _narrow(agent: AgentPlan, target: Target, live: LiveState, scope: Scope) -> AgentPlan:
    agent = _relabel_forced(agent, live, scope)
    if not scope.partial:
        return agent
    changes = tuple(c for c in agent.changes if scope.targeted(c.key))
    return replace(
        agent,
        changes=changes,
        rag_changes=(),
        orphans=tuple(o for o in agent.orphans if scope.targeted(o.key)),
        knowledge_base=_knowledge_base(agent, target, live, scope),
        deletions=tuple(d for d in agent.deletions if scope.targeted(d.key)),
        findings=tuple(f for f in agent.findings if f.key is None or scope.targeted(f.key)),
    )


def _relabel_forced(agent: AgentPlan, live: LiveState, scope: Scope) -> AgentPlan:
    """A replace the run forced (not an edit found in the workspace) says so."""
    edited = set(live.edited)
    changes = tuple(
        replace(
            c,
            reason=ReplaceReason.FORCED,
            notes=(FORCED_NOTE, *(n for n in c.notes if not n.startswith("edited in place"))),
        )
        if isinstance(c, ReplaceDocument)
        and c.reason is ReplaceReason.EDITED
        and c.live_id not in edited
        and scope.forced(c.key)
        else c
        for c in agent.changes
    )
    return replace(agent, changes=changes)


def _knowledge_base(
    agent: AgentPlan, target: Target, live: LiveState, scope: Scope
) -> tuple[TargetEntry, ...]:
    """The live array in its order, with only the targeted entries as the plan writes them;
    then the targeted documents the plan creates."""
    planned = {e.key: e for e in agent.knowledge_base if e.key is not None}
    holder = {c.live_id: c.key for c in agent.changes if not isinstance(c, DeleteDocument)}
    names = {doc.id: doc for doc in live.documents}
    out: list[TargetEntry] = []
    written: set[str] = set()
    for entry in live.agent.knowledge_base:
        doc = names.get(entry.id)
        marker = managed_marker(
            target, doc.name if doc else entry.name, doc.marker if doc else None
        )
        key = holder.get(entry.id) or (marker.key if marker is not None else None)
        if key is None:
            out.append(TargetEntry(None, entry.id, entry.name, entry.doc_type, entry.usage_mode))
        elif not scope.targeted(key):
            out.append(TargetEntry(key, entry.id, entry.name, entry.doc_type, entry.usage_mode))
        elif key in planned and key not in written:
            out.append(planned[key])
            written.add(key)
    out += [e for k, e in planned.items() if scope.targeted(k) and k not in written]
    return tuple(out)
