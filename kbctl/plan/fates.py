"""Each match's planned change: create, replace, update, reindex, noop, or delete.

Owns turning a `Match` (who holds which key, from `kbctl.plan.matching`) into its
`DocumentChange`: the fields that change, the notes, and whether the document needs its RAG
index requested (`IndexRule`: from the index health read before planning, else from a model
change or a prompt → auto switch). Pure, like the planner that calls it.
"""

from __future__ import annotations

import json
from typing import assert_never

from kbctl.chunking import Metadata
from kbctl.identity import same_identity
from kbctl.model import DocType, IndexHealth, IndexStatus, UsageMode
from kbctl.plan.matching import DUPLICATE, REMOVED, Attached, Fate, Match
from kbctl.plan.types import (
    CreateDocument,
    DeleteDocument,
    DocumentChange,
    FieldChange,
    KeepDocument,
    ReindexDocument,
    ReplaceDocument,
    ReplaceReason,
    UpdateDocument,
)


class IndexRule:
    """Whether a kept document needs an index request: from its read index, else the model."""

    def __init__(
        self, model: str, model_changes: bool, health: dict[str, IndexHealth] | None
    ) -> None:
        self.model = model
        self.model_changes = model_changes
        self.health = health

    def missing(self, old: Attached) -> IndexHealth | None:
        """The read index of `old` when it is not searchable and apply must (re)request it."""
        if self.health is None:
            return None
        h = self.health.get(old.entry.id)
        if h is None:
            return None
        return h if h.status.needs_reindex or h.status.in_flight else None

    def reuse_indexed(self, doc_id: str) -> bool:
        """Whether a reused document already has a succeeded index for the model (read before
        planning): then apply requests nothing for it."""
        if self.health is None:
            return False
        h = self.health.get(doc_id)
        return h is not None and h.status is IndexStatus.SUCCEEDED

    def kept_needs_index(self, old: Attached, prompt_to_auto: bool) -> bool:
        if self.health is None:
            return prompt_to_auto or self.model_changes
        h = self.health.get(old.entry.id)
        if h is None:  # not read (a folder, say): trust the old rule
            return prompt_to_auto or self.model_changes
        return h.status is not IndexStatus.SUCCEEDED


def change_for(m: Match, index: IndexRule) -> DocumentChange:
    """The change of one match (rule 2, the index it needs included)."""
    want, spec, old = m.wanted, m.wanted.spec, m.attached
    notes = list(want.notes)
    size = None if spec.doc_type is DocType.URL else spec.size_bytes
    auto = want.usage_mode is UsageMode.AUTO
    # A reused document keeps its name: an older marker (naming an environment) is the same
    # identity, not worth a rename.
    name = m.reuse.name if m.reuse is not None else want.name
    if m.reuse is not None:
        indexed = index.reuse_indexed(m.reuse.id)
        auto = auto and not indexed
        reuse_note = _reuse_note(m, index.model, indexed, want.usage_mode)
    match m.fate:
        case Fate.CREATE:
            if m.reuse is not None:
                notes.append(reuse_note)
            return CreateDocument(
                key=want.key,
                doc_type=spec.doc_type,
                name=name,
                usage_mode=want.usage_mode,
                content_hash=spec.content_hash,
                size_bytes=size,
                reuse_id=m.reuse.id if m.reuse is not None else None,
                needs_index=auto,
                notes=tuple(notes),
            )
        case Fate.REPLACE:
            assert old is not None  # match_documents sets it for a replace
            changed = [FieldChange("content_hash", _hash12(old), want.hash12)]
            if old.doc_type is not spec.doc_type:
                changed.append(FieldChange("doc_type", old.doc_type.value, spec.doc_type.value))
            changed += _usage_change(old.entry.usage_mode, want.usage_mode)
            reason = ReplaceReason.CONTENT
            if m.edited_in_place:
                reason = ReplaceReason.EDITED
                notes.append(
                    "edited in place: its live content is not what its marker says; apply "
                    "uploads the declared content again"
                )
            if m.reuse is not None:
                notes.append(reuse_note)
            return ReplaceDocument(
                key=want.key,
                doc_type=spec.doc_type,
                name=name,
                usage_mode=want.usage_mode,
                content_hash=spec.content_hash,
                size_bytes=size,
                live_id=old.entry.id,
                live_name=old.name,
                reuse_id=m.reuse.id if m.reuse is not None else None,
                needs_index=auto,
                fields=tuple(changed),
                notes=tuple(notes),
                reason=reason,
            )
        case Fate.KEEP | Fate.RENAME:
            assert old is not None  # match_documents sets it for a keep or rename
            return _kept(m, old, index, notes)
        case _:
            assert_never(m.fate)


def _reuse_note(m: Match, model: str, indexed: bool, mode: UsageMode) -> str:
    """What a reuse saves: the upload always, the index when it is there already."""
    assert m.reuse is not None
    if m.shared is None:
        done = f"; already indexed for {model}, nothing to request" if indexed else ""
        return f"reuses orphan {m.reuse.id}, no upload{done}"
    if mode is not UsageMode.AUTO:
        saved = "nothing uploaded"
    elif indexed:
        saved = f"already indexed for {model}: nothing uploaded or indexed"
    else:
        saved = f"nothing uploaded; its index for {model} is requested"
    return f"shared: reuses {m.reuse.id}, which {m.shared.label} uses; {saved}"


def _kept(m: Match, old: Attached, index: IndexRule, notes: list[str]) -> DocumentChange:
    """A kept document: noop, update in place, or reindex."""
    want, spec = m.wanted, m.wanted.spec
    changed: list[FieldChange] = []
    if m.fate is Fate.RENAME:
        changed.append(FieldChange("key", old.key, want.key))
        notes.append("renamed in place: no upload")
    # A document (or agent entry) whose name carries the wanted marker with another
    # environment in it (shared from there) keeps that name: the same identity, no rename.
    name = old.name if same_identity(old.name, want.name) else want.name
    stale = next((n for n in (old.name, old.entry.name) if not same_identity(n, name)), None)
    if stale is not None:
        changed.append(FieldChange("name", stale, name))
    changed += _usage_change(old.entry.usage_mode, want.usage_mode)
    changed += _metadata_change(old, spec.metadata)
    if old.times > 1:
        changed.append(FieldChange("entries", str(old.times), "1"))
        notes.append(f"attached {old.times} times: written once")
    prompt_to_auto = old.entry.usage_mode is UsageMode.PROMPT
    auto = want.usage_mode is UsageMode.AUTO
    needs_index = auto and index.kept_needs_index(old, prompt_to_auto)
    missing = index.missing(old) if auto else None
    if needs_index and missing is not None and not prompt_to_auto:
        notes.append(_index_note(missing, index.model))
    size = None if spec.doc_type is DocType.URL else spec.size_bytes
    key, mode, content = want.key, want.usage_mode, spec.content_hash
    live_id, live_name = old.entry.id, old.name
    if changed:
        return UpdateDocument(
            key, spec.doc_type, name, mode, content, size, live_id, live_name,
            needs_index=needs_index, fields=tuple(changed), notes=tuple(notes),
        )  # fmt: skip
    if needs_index:
        seen = (missing.reported or missing.status.value) if missing is not None else None
        return ReindexDocument(
            key, spec.doc_type, name, mode, content, size, live_id, live_name,
            index_status=seen, notes=tuple(notes),
        )  # fmt: skip
    return KeepDocument(
        key, spec.doc_type, name, mode, content, size, live_id, live_name, notes=tuple(notes)
    )


def _index_note(health: IndexHealth, model: str) -> str:
    status = health.reported or health.status.value
    if health.status is IndexStatus.NOT_INDEXED:
        return f"no index for {model}: apply requests one and waits for it"
    if health.status.in_flight:
        return f"index for {model} still {status}: apply waits for it"
    return f"index for {model} {status}: apply requests a new one and waits for it"


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


def delete_change(old: Attached, reason: str) -> DocumentChange:
    """A DELETE change for an attached managed document that nothing keeps."""
    note = {
        REMOVED: "removed: no longer declared",
        DUPLICATE: "duplicate: another attached document already holds this key",
    }[reason]
    return DeleteDocument(
        key=old.key,
        doc_type=old.doc_type,
        size_bytes=old.doc.size_bytes if old.doc is not None else None,
        live_id=old.entry.id,
        live_name=old.name,
        notes=(note,),
    )
