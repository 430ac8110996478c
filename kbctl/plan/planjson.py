"""Plan values → JSON-ready data: the writing half of the plan format (`docs/plan-format.md`).

Owns the shape of every object a plan file holds, and what format 3 summarises instead of
listing: the `noop` changes and the `knowledge_base` array of each agent become counts and
sha256 digests (`Unlisted`), so a plan of 10,000 unchanged documents stays a few kilobytes.
`unlist` turns a full agent plan into the summarised one a plan file reads back as. Pure: no
I/O. Reading is `kbctl.plan.planfile`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from kbctl.plan.types import (
    Action,
    AgentPlan,
    DocumentChange,
    Plan,
    ReindexDocument,
    ReplaceDocument,
    Summary,
    TargetEntry,
    Unlisted,
)

__all__ = ["change_dict", "plan_to_dict", "summary_dict", "unlist", "unlisted_of"]


def plan_to_dict(plan: Plan, *, list_unchanged: bool = False) -> dict[str, object]:
    """The plan as JSON-ready data, in the current format (unchanged documents summarised).

    With `list_unchanged` (`kbctl plan --format json` on stdout, for scripts and people) the
    `noop` changes are listed in `changes[]` too, each with its action and key; plan files
    (`--out`) leave them to `unlisted`, which readers check either way."""
    agents = tuple(unlist(a) for a in plan.agents)
    noops = [
        change_dict(full, c)
        for full in (plan.agents if list_unchanged else ())
        for c in full.changes
        if c.action is Action.NOOP
    ]
    return {
        "format_version": plan.format_version,
        "environment": plan.environment,
        "fingerprint": plan.fingerprint,
        "has_changes": plan.has_changes,
        "has_cleanup": plan.has_cleanup,
        "summary": summary_dict(plan.summary),
        "partial": plan.scope.partial,
        "scope": {
            "targets": list(plan.scope.targets),
            "replace": list(plan.scope.replace),
            "replace_all": plan.scope.replace_all,
        },
        "changes": [change_dict(agent, c) for agent in agents for c in agent.changes] + noops,
        "agents": [_agent(agent) for agent in agents],
    }


def unlist(agent: AgentPlan) -> AgentPlan:
    """`agent` as a plan file holds it: no `noop` change and no `knowledge_base` listed, their
    counts and digests in `unlisted` instead. Unchanged when already summarised."""
    if agent.unlisted is not None:
        return agent
    listed = tuple(c for c in agent.changes if c.action is not Action.NOOP)
    return replace(agent, changes=listed, knowledge_base=(), unlisted=unlisted_of(agent))


def unlisted_of(agent: AgentPlan) -> Unlisted:
    """The counts and digests of what a plan file leaves out of a full agent plan."""
    if agent.unlisted is not None:
        return agent.unlisted
    noops = [change_dict(agent, c) for c in agent.changes if c.action is Action.NOOP]
    entries = [_entry(e) for e in agent.knowledge_base]
    return Unlisted(len(noops), _digest(noops), len(entries), _digest(entries))


def _digest(items: list[dict[str, object]]) -> str:
    """sha256 of the items as compact canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(
        items, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def summary_dict(summary: Summary, *, v1: bool = False) -> dict[str, object]:
    """The counts per action (version 1 counted a re-index as a noop and had no `reindex`)."""
    counts: dict[str, object] = {
        "create": summary.create,
        "replace": summary.replace,
        "update": summary.update,
        "delete": summary.delete,
        "noop": summary.noop,
        "reindex": summary.reindex,
    }
    if v1:
        counts["noop"] = summary.noop + summary.reindex
        del counts["reindex"]
    return counts


def change_dict(agent: AgentPlan, c: DocumentChange) -> dict[str, object]:
    """One entry of `changes[]`."""
    return {
        "agent_id": agent.agent_id,
        "project": agent.project,
        "manifest": agent.manifest,
        "action": c.action.value,
        "key": c.key,
        "doc_type": c.doc_type.value,
        "name": c.name,
        "usage_mode": c.usage_mode.value if c.usage_mode is not None else None,
        "content_hash": c.content_hash,
        "size_bytes": c.size_bytes,
        "live_id": c.live_id,
        "live_name": c.live_name,
        "reuse_id": c.reuse_id,
        "needs_index": c.needs_index,
        "fields": [{"field": f.field, "before": f.before, "after": f.after} for f in c.fields],
        "notes": list(c.notes),
        "reason": c.reason.value if isinstance(c, ReplaceDocument) else None,
        "index_status": c.index_status if isinstance(c, ReindexDocument) else None,
        "diff": c.diff if isinstance(c, ReplaceDocument) else None,
    }


def _entry(e: TargetEntry) -> dict[str, object]:
    return {
        "key": e.key,
        "id": e.id,
        "name": e.name,
        "doc_type": e.doc_type.value,
        "usage_mode": e.usage_mode.value,
    }


def _agent(a: AgentPlan) -> dict[str, object]:
    unlisted = unlisted_of(a)
    return {
        "manifest": a.manifest,
        "project": a.project,
        "environment": a.environment,
        "agent_id": a.agent_id,
        "fingerprint": a.fingerprint,
        "embedding_model": a.embedding_model,
        "endpoint": a.endpoint,
        "protect": a.protect,
        "policy": {
            "index_timeout": float(a.policy.index_timeout),
            "small_documents": a.policy.small_documents.value,
            "max_deletes": a.policy.max_deletes,
            "delete_wait": float(a.policy.delete_wait),
        },
        "has_changes": a.has_changes,
        "has_cleanup": bool(a.cleanup),
        "summary": summary_dict(a.summary),
        "unlisted": {
            "noop": unlisted.noop,
            "noop_digest": unlisted.noop_digest,
            "knowledge_base": unlisted.knowledge_base,
            "knowledge_base_digest": unlisted.knowledge_base_digest,
        },
        "rag_changes": [
            {"field": r.field, "before": r.before, "after": r.after} for r in a.rag_changes
        ],
        "orphans": [
            {"id": o.id, "name": o.name, "key": o.key, "hash12": o.hash12, "fate": o.fate}
            for o in a.orphans
        ],
        "unmanaged": [
            {
                "id": e.id,
                "name": e.name,
                "doc_type": e.doc_type.value,
                "usage_mode": e.usage_mode.value,
            }
            for e in a.unmanaged
        ],
        "deletions": [
            {"id": d.id, "name": d.name, "key": d.key, "reason": d.reason} for d in a.deletions
        ],
        "findings": [
            {
                "code": f.code,
                "severity": f.severity.value,
                "message": f.message,
                "key": f.key,
                "file": f.file,
                "line": f.line,
            }
            for f in a.findings
        ],
    }
