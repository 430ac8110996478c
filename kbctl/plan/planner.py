"""The pure planner: a manifest target and the live state in, an `AgentPlan` out.

Owns the planning rules: which live document holds which key (by the ownership marker in its
name), what is kept, renamed, replaced, created or deleted, which orphans are reused, the
complete `knowledge_base` array apply writes, the RAG settings and the findings (predictions of
what apply would hit). It must not do I/O, read a clock, log or use randomness: the same inputs
give the same plan, byte for byte once serialised. Matching lives in `kbctl.plan.matching`,
each match's change in `kbctl.plan.fates`, the findings in `kbctl.plan.findings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from typing import assert_never

from kbctl.fingerprint import live_fingerprint
from kbctl.identity import shares_documents
from kbctl.model import (
    RAG_DEFAULTS,
    IndexHealth,
    IndexStatus,
    LiveAgent,
    LiveDocument,
    LiveState,
    Marker,
    Target,
    UsageMode,
)
from kbctl.plan.fates import IndexRule, change_for, delete_change
from kbctl.plan.findings import FindingInputs, findings_for
from kbctl.plan.matching import (
    ORPHAN,
    REMOVED,
    REPLACED,
    Attached,
    Fate,
    Match,
    match_documents,
    orphan_documents,
    resolve_attached,
    used_elsewhere,
    wanted_documents,
)
from kbctl.plan.types import (
    Action,
    AgentPlan,
    CreateDocument,
    DeleteDocument,
    Deletion,
    DocumentChange,
    KeepDocument,
    Orphan,
    Plan,
    RagChange,
    ReindexDocument,
    ReplaceDocument,
    TargetEntry,
    UpdateDocument,
    endpoint_label,
)
from kbctl.sharing import SharedUse

__all__ = ["embedding_model", "make_plan", "plan_target"]

_ACTION_ORDER = {action: rank for rank, action in enumerate(Action)}


def embedding_model(target: Target, agent: LiveAgent) -> str:
    """The model documents must be indexed for: the manifest's, else the one the agent uses
    now (set by hand in the dashboard, maybe), else the API default."""
    live_model = agent.rag.embedding_model or RAG_DEFAULTS.embedding_model or ""
    return target.rag.embedding_model or live_model


def plan_target(target: Target, live: LiveState) -> AgentPlan:
    """Plan one target against its live state. Pure and deterministic.

    When `live` carries index health for the planned model (`kbctl.observe`), a kept `auto`
    document without a succeeded index is a `reindex`, one the API answered
    `document_too_small` for follows the small-document policy, and one with a succeeded index
    needs nothing even after a model change; `live.edited` documents are replaced. Without
    index health, a model change (or prompt → auto) re-indexes, as before.

    Precondition (the manifest loader guarantees it): document keys in `target` are unique.
    """
    live_model = live.agent.rag.embedding_model or RAG_DEFAULTS.embedding_model or ""
    model = embedding_model(target, live.agent)
    model_changes = model != live_model
    health = {h.doc_id: h for h in live.indexes} if live.index_model == model else None

    attached = resolve_attached(target, live)
    wanted, small_findings = wanted_documents(target, _server_small(attached, health))
    orphan_docs = orphan_documents(target, live, attached)
    elsewhere = used_elsewhere(target, live)

    matches, dropped = match_documents(
        wanted, attached, orphan_docs, frozenset(live.edited), elsewhere
    )
    index = IndexRule(model, model_changes, health)
    changes = [_sharing(change_for(m, index), elsewhere) for m in matches]
    changes += [_sharing(delete_change(a, reason), elsewhere) for a, reason in dropped]
    changes.sort(key=lambda c: (c.key, _ACTION_ORDER[c.action], c.live_id or ""))

    orphans = _orphans([o for o in orphan_docs if o[0].id not in elsewhere], matches)
    every_deletion = _deletions(dropped, matches, orphans)
    deletions = tuple(d for d in every_deletion if d.id not in elsewhere)
    # A shared document is only detached here, but `protect` guards detachments too.
    detached = tuple(d for d in every_deletion if d.id in elsewhere and d.reason == REMOVED)
    unmanaged = tuple(a.entry for a in attached if a.marker is None)
    knowledge_base = _target_array(attached, matches, changes)
    findings = small_findings + findings_for(
        FindingInputs(
            manifest=target.manifest,
            changes=tuple(changes),
            deletions=deletions,
            detached=detached,
            knowledge_base=knowledge_base,
            live_managed=len(attached) - len(unmanaged),
            unmanaged=len(unmanaged),
            unmanaged_auto=sum(1 for e in unmanaged if e.usage_mode is UsageMode.AUTO),
            repeated=tuple(a.entry for a in attached if a.marker is None and a.times > 1),
            quota=live.quota,
            policy=target.policy,
            protect=target.protect,
            model=model,
            previous_model=live_model if model_changes else None,
            model_managed=target.rag.embedding_model is not None,
            unindexed_unmanaged=_unindexed_unmanaged(attached, health),
            live_auto=sum(1 for a in attached if a.entry.usage_mode is UsageMode.AUTO),
        )
    )
    plan = AgentPlan(
        manifest=target.manifest,
        project=target.project,
        environment=target.environment,
        agent_id=target.agent_id,
        fingerprint="",  # below: of everything, or (shared documents) of what it uses
        embedding_model=model,
        changes=tuple(changes),
        rag_changes=_rag_changes(target, live),
        orphans=orphans,
        unmanaged=unmanaged,
        knowledge_base=knowledge_base,
        deletions=deletions,
        findings=findings,
        protect=target.protect,
        policy=target.policy,
        endpoint=endpoint_label(target.base_url),
        provider=target.provider,
    )
    if not shares_documents(target.provider):
        return replace(plan, fingerprint=live_fingerprint(live))
    # Another environment's uploads must not make this plan stale: only what it depends on.
    return replace(plan, fingerprint=live_fingerprint(live, plan.referenced))


def _server_small(
    attached: Sequence[Attached], health: dict[str, IndexHealth] | None
) -> frozenset[tuple[str, str]]:
    """(key, hash12) of managed attached documents the API called too small to index."""
    if health is None:
        return frozenset()
    return frozenset(
        (a.marker.key, a.marker.hash12)
        for a in attached
        if a.marker is not None
        and (h := health.get(a.entry.id)) is not None
        and h.status is IndexStatus.DOCUMENT_TOO_SMALL
    )


def _unindexed_unmanaged(
    attached: Sequence[Attached], health: dict[str, IndexHealth] | None
) -> tuple[tuple[str, str, str], ...]:
    """(id, name, status) of unmanaged `auto` documents without a succeeded index."""
    if health is None:
        return ()
    out: list[tuple[str, str, str]] = []
    for a in attached:
        h = health.get(a.entry.id)
        if a.marker is not None or a.entry.usage_mode is not UsageMode.AUTO or h is None:
            continue
        if h.status is not IndexStatus.SUCCEEDED:
            out.append((a.entry.id, a.name, h.reported or h.status.value))
    return tuple(out)


def make_plan(environment: str, pairs: Sequence[tuple[Target, LiveState]]) -> Plan:
    """Plan every (target, live state) pair of one environment, in (manifest, agent) order."""
    agents = sorted(
        (plan_target(target, live) for target, live in pairs),
        key=lambda a: (a.manifest, a.agent_id),
    )
    seen: set[tuple[str, str]] = set()
    for agent in agents:
        if agent.environment != environment:
            raise ValueError(
                f"{agent.manifest}: planned for {agent.environment}, not {environment}"
            )
        if (agent.manifest, agent.agent_id) in seen:
            raise ValueError(f"{agent.manifest}: agent {agent.agent_id} planned twice")
        seen.add((agent.manifest, agent.agent_id))
    return Plan(environment=environment, agents=tuple(agents))


# --------------------------------------------------------------------------------------------
# Orphans and deletions (rule 3)


def _orphans(
    orphan_docs: Sequence[tuple[LiveDocument, Marker]], matches: Sequence[Match]
) -> tuple[Orphan, ...]:
    reused = {m.reuse.id for m in matches if m.reuse is not None}
    return tuple(
        Orphan(
            doc.id, doc.name, marker.key, marker.hash12, "reuse" if doc.id in reused else "delete"
        )
        for doc, marker in orphan_docs
    )


def _deletions(
    dropped: Sequence[tuple[Attached, str]],
    matches: Sequence[Match],
    orphans: Sequence[Orphan],
) -> tuple[Deletion, ...]:
    """Everything apply deletes after the swap, by key then id."""
    out = [Deletion(a.entry.id, a.name, a.key, reason) for a, reason in dropped]
    out += [
        Deletion(m.attached.entry.id, m.attached.name, m.attached.key, REPLACED)
        for m in matches
        if m.fate is Fate.REPLACE and m.attached is not None
    ]
    out += [Deletion(o.id, o.name, o.key, ORPHAN) for o in orphans if o.fate == "delete"]
    return tuple(sorted(out, key=lambda d: (d.key, d.id)))


def _sharing(change: DocumentChange, elsewhere: dict[str, SharedUse]) -> DocumentChange:
    """A change that drops a document another agent still uses says it stays (not deleted)."""
    use = elsewhere.get(change.live_id or "")
    if use is None:
        return change
    match change:
        case DeleteDocument():
            note = f"shared: {use.label} uses it; detached from this agent only, not deleted"
        case ReplaceDocument():
            note = f"shared: the superseded copy stays, {use.label} uses it"
        case _:
            return change
    return replace(change, notes=(*change.notes, note))


# --------------------------------------------------------------------------------------------
# The array apply writes (rule 4) and the RAG settings (rule 5)


def _target_array(
    attached: Sequence[Attached], matches: Sequence[Match], changes: Sequence[DocumentChange]
) -> tuple[TargetEntry, ...]:
    """Walk the live array in order, then append the creates in key order."""
    by_key = {c.key: c for c in changes if c.action is not Action.DELETE}
    holding = {m.attached.entry.id: m for m in matches if m.attached is not None}
    out: list[TargetEntry] = []
    for a in attached:
        m = holding.get(a.entry.id)
        if m is not None:
            out.append(_entry(by_key[m.wanted.key], m))
        elif a.marker is None:
            e = a.entry
            out.append(TargetEntry(None, e.id, e.name, e.doc_type, e.usage_mode))
    out += [_entry(by_key[m.wanted.key], m) for m in matches if m.fate is Fate.CREATE]
    return tuple(out)


def _entry(change: DocumentChange, m: Match) -> TargetEntry:
    match change:
        case UpdateDocument() | ReindexDocument() | KeepDocument():
            # A kept document keeps its type: an uploaded file adopted by `kbctl import` is
            # declared as its extracted text, but it is still a file.
            doc_type = m.attached.doc_type if m.attached is not None else change.doc_type
            return TargetEntry(change.key, change.live_id, change.name, doc_type, change.usage_mode)
        case CreateDocument() | ReplaceDocument():
            return TargetEntry(
                change.key, change.reuse_id, change.name, change.doc_type, change.usage_mode
            )
        case DeleteDocument():
            raise ValueError(f"{change.key}: a deleted document has no entry")
        case _:
            assert_never(change)


def _rag_changes(target: Target, live: LiveState) -> tuple[RagChange, ...]:
    """Each managed RAG field that differs from the live value (or the API default)."""
    out: list[RagChange] = []
    for f in fields(target.rag):
        after = getattr(target.rag, f.name)
        if after is None:
            continue
        before = getattr(live.agent.rag, f.name)
        if before is None:
            before = getattr(RAG_DEFAULTS, f.name)
        if before != after or isinstance(before, bool) is not isinstance(after, bool):
            out.append(RagChange(f.name, before, after))
    return tuple(out)
