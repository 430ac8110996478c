"""The pure planner: a manifest target and the live state in, an `AgentPlan` out.

Owns the planning rules: which live document holds which key (by the ownership marker in its
name), what is kept, renamed, replaced, created or deleted, which orphans are reused, the
complete `knowledge_base` array apply writes, the RAG settings and the findings (predictions of
what apply would hit). It must not do I/O, read a clock, log or use randomness: the same inputs
give the same plan, byte for byte once serialised. Matching lives in `kbctl.plan.matching`,
the findings in `kbctl.plan.findings`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from typing import assert_never

from kbctl.model import (
    RAG_DEFAULTS,
    DocType,
    LiveDocument,
    LiveState,
    Marker,
    Metadata,
    Target,
    UsageMode,
)
from kbctl.plan.findings import FindingInputs, findings_for
from kbctl.plan.matching import (
    DUPLICATE,
    ORPHAN,
    REMOVED,
    REPLACED,
    Attached,
    Fate,
    Match,
    match_documents,
    orphan_documents,
    resolve_attached,
    wanted_documents,
)
from kbctl.plan.types import (
    Action,
    AgentPlan,
    Deletion,
    DocumentChange,
    FieldChange,
    Orphan,
    Plan,
    RagChange,
    TargetEntry,
)

__all__ = ["make_plan", "plan_target"]

_ACTION_ORDER = {action: rank for rank, action in enumerate(Action)}


def plan_target(target: Target, live: LiveState) -> AgentPlan:
    """Plan one target against its live state. Pure and deterministic.

    Precondition (the manifest loader guarantees it): document keys in `target` are unique.
    """
    wanted, small_findings = wanted_documents(target)
    attached = resolve_attached(target, live)
    orphan_docs = orphan_documents(target, live, attached)

    live_model = live.agent.rag.embedding_model or RAG_DEFAULTS.embedding_model or ""
    model = target.rag.embedding_model or live_model
    model_changes = model != live_model

    matches, dropped = match_documents(wanted, attached, orphan_docs)
    changes = [_change_for(m, model_changes) for m in matches]
    changes += [_delete_change(a, reason) for a, reason in dropped]
    changes.sort(key=lambda c: (c.key, _ACTION_ORDER[c.action], c.live_id or ""))

    orphans = _orphans(orphan_docs, matches)
    deletions = _deletions(dropped, matches, orphans)
    unmanaged = tuple(a.entry for a in attached if a.marker is None)
    knowledge_base = _target_array(attached, matches, changes)
    findings = small_findings + findings_for(
        FindingInputs(
            manifest=target.manifest,
            changes=tuple(changes),
            deletions=deletions,
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
        )
    )
    return AgentPlan(
        manifest=target.manifest,
        project=target.project,
        environment=target.environment,
        agent_id=target.agent_id,
        fingerprint=live.fingerprint(),
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
    )


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


# --------------------------------------------------------------------------------------------
# Changes


def _change_for(m: Match, model_changes: bool) -> DocumentChange:
    """The DocumentChange of one match (rule 2, `needs_index` included)."""
    want, spec, old = m.wanted, m.wanted.spec, m.attached
    changed: list[FieldChange] = []
    notes = list(want.notes)
    action: Action
    match m.fate:
        case Fate.KEEP | Fate.RENAME:
            assert old is not None
            if m.fate is Fate.RENAME:
                changed.append(FieldChange("key", old.key, want.key))
                notes.append("renamed in place: no upload")
            stale = next((n for n in (old.name, old.entry.name) if n != want.name), None)
            if stale is not None:
                changed.append(FieldChange("name", stale, want.name))
            changed += _usage_change(old.entry.usage_mode, want.usage_mode)
            changed += _metadata_change(old, spec.metadata)
            if old.times > 1:
                changed.append(FieldChange("entries", str(old.times), "1"))
                notes.append(f"attached {old.times} times: written once")
            action = Action.UPDATE if changed else Action.NOOP
        case Fate.REPLACE:
            assert old is not None
            changed.append(FieldChange("content_hash", _hash12(old), want.hash12))
            if old.doc_type is not spec.doc_type:
                changed.append(FieldChange("doc_type", old.doc_type.value, spec.doc_type.value))
            changed += _usage_change(old.entry.usage_mode, want.usage_mode)
            action = Action.REPLACE
        case Fate.CREATE:
            action = Action.CREATE
        case _:
            assert_never(m.fate)
    if m.reuse is not None:
        notes.append(f"reuses orphan {m.reuse.id}, no upload")
    prompt_to_auto = (
        old is not None
        and m.fate in (Fate.KEEP, Fate.RENAME)
        and old.entry.usage_mode is UsageMode.PROMPT
    )
    needs_index = want.usage_mode is UsageMode.AUTO and (
        action in (Action.CREATE, Action.REPLACE) or prompt_to_auto or model_changes
    )
    return DocumentChange(
        action=action,
        key=want.key,
        doc_type=spec.doc_type,
        name=want.name,
        usage_mode=want.usage_mode,
        content_hash=spec.content_hash,
        size_bytes=None if spec.doc_type is DocType.URL else spec.size_bytes,
        live_id=old.entry.id if old is not None else None,
        live_name=old.name if old is not None else None,
        reuse_id=m.reuse.id if m.reuse is not None else None,
        needs_index=needs_index,
        fields=tuple(changed),
        notes=tuple(notes),
    )


def _hash12(old: Attached) -> str:
    assert old.marker is not None
    return old.marker.hash12


def _usage_change(before: UsageMode, after: UsageMode) -> list[FieldChange]:
    return [] if before is after else [FieldChange("usage_mode", before.value, after.value)]


def _metadata_change(old: Attached, wanted: Metadata) -> list[FieldChange]:
    """The user's attributes (OpenAI), when they differ: updated in place, no re-embedding."""
    live = old.doc.metadata if old.doc is not None else None
    if live is None or dict(live) == dict(wanted):
        return []
    return [FieldChange("metadata", _metadata_text(live), _metadata_text(wanted))]


def _metadata_text(metadata: Metadata) -> str:
    return json.dumps(dict(metadata), sort_keys=True, ensure_ascii=False)


def _delete_change(old: Attached, reason: str) -> DocumentChange:
    """A DELETE change for an attached managed document that nothing keeps."""
    note = {
        REMOVED: "removed: no longer declared",
        DUPLICATE: "duplicate: another attached document already holds this key",
    }[reason]
    return DocumentChange(
        action=Action.DELETE,
        key=old.key,
        doc_type=old.doc_type,
        name=None,
        usage_mode=None,
        content_hash=None,
        size_bytes=old.doc.size_bytes if old.doc is not None else None,
        live_id=old.entry.id,
        live_name=old.name,
        notes=(note,),
    )


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
    assert change.name is not None and change.usage_mode is not None
    if m.fate in (Fate.KEEP, Fate.RENAME):
        # A kept document keeps its type: an uploaded file adopted by `kbctl import` is
        # declared as its extracted text, but it is still a file.
        assert m.attached is not None
        return TargetEntry(
            change.key, change.live_id, change.name, m.attached.doc_type, change.usage_mode
        )
    return TargetEntry(change.key, change.reuse_id, change.name, change.doc_type, change.usage_mode)


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
