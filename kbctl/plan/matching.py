"""Who holds which key: the desired set after the small-document policy, the live array
resolved against the ownership marker, orphans, and each wanted document's fate (planning
rules 1 and 2).

Pure like the planner that uses it: no I/O, no clock, no randomness; ties are broken by key,
array position and id, never by iteration order of a set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import assert_never

from kbctl.identity import (
    HASH_CHARS,
    identity_hash,
    owned,
    parse_marker,
    shares_documents,
    target_document_name,
)
from kbctl.model import (
    MIN_INDEX_BYTES,
    DocType,
    DocumentSpec,
    KbEntry,
    LiveDocument,
    LiveState,
    Marker,
    ProviderKind,
    SmallDocumentPolicy,
    Target,
    UsageMode,
)
from kbctl.plan.types import Finding, Severity
from kbctl.sharing import SharedUse

#: Deletion reasons (`Deletion.reason`).
REPLACED = "replaced"  # superseded by a replacement of the same key
REMOVED = "removed"  # managed, attached, no longer declared (counts for max_deletes/protect)
ORPHAN = "orphan"  # managed, not attached, not reused
DUPLICATE = "duplicate"  # a second attached document for a key that is already held


# --------------------------------------------------------------------------------------------
# Desired side


@dataclass(frozen=True, slots=True)
class Wanted:
    """A declared document after the small-document policy, with the name it must carry."""

    spec: DocumentSpec
    usage_mode: UsageMode
    name: str
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def hash12(self) -> str:
        return identity_hash(self.spec.content_hash, self.spec.chunking)[:HASH_CHARS]


def wanted_documents(
    target: Target, server_small: frozenset[tuple[str, str]] = frozenset()
) -> tuple[list[Wanted], tuple[Finding, ...]]:
    """The desired set in key order, and the `small_document` findings (rule 1).

    `server_small` holds the (key, hash12) of declared documents whose live copy the API
    answered `document_too_small` for: the server measures extracted text (a URL's page, a
    file's text), so its verdict counts like a local size under 500 bytes.
    """
    wanted: list[Wanted] = []
    findings: list[Finding] = []
    policy = target.policy.small_documents
    for spec in sorted(target.documents, key=lambda s: s.key):
        identity = identity_hash(spec.content_hash, spec.chunking)
        name = target_document_name(
            target.provider, spec.key, target.project, target.environment, identity
        )
        by_server = (
            spec.usage_mode is UsageMode.AUTO
            and (spec.key, spec.content_hash[:HASH_CHARS]) in server_small
        )
        # A vector store indexes files of any size: the small-document rule is ElevenLabs'.
        if target.provider is ProviderKind.OPENAI or (not _is_small(spec) and not by_server):
            wanted.append(Wanted(spec, spec.usage_mode, name))
            continue
        if _is_small(spec):
            prefix = f"{spec.key}: {spec.size_bytes} bytes < {MIN_INDEX_BYTES}"
        else:
            prefix = f"{spec.key}: the API answered document_too_small for it"
        suffix = f"(policy small_documents: {policy.value})"
        match policy:
            case SmallDocumentPolicy.PROMPT:
                message = f"{prefix}: attached with usage_mode prompt {suffix}"
                # The policy handles it: worth saying once, not a warning on every plan.
                findings.append(_small(Severity.INFO, message, spec, target.manifest))
                note = f"usage_mode prompt: too small to index {suffix}"
                wanted.append(Wanted(spec, UsageMode.PROMPT, name, (note,)))
            case SmallDocumentPolicy.FAIL:
                message = f"{prefix}: cannot be indexed; apply will stop at the index gate {suffix}"
                findings.append(_small(Severity.ERROR, message, spec, target.manifest))
                wanted.append(Wanted(spec, spec.usage_mode, name))
            case SmallDocumentPolicy.SKIP:
                message = f"{prefix}: left out of the knowledge base {suffix}"
                findings.append(_small(Severity.INFO, message, spec, target.manifest))
            case _:
                assert_never(policy)
    return wanted, tuple(findings)


def _small(severity: Severity, message: str, spec: DocumentSpec, manifest: str) -> Finding:
    """A `small_document` finding, placed on the document's manifest entry when it is known."""
    origin = spec.origin
    file, line = (origin.file, origin.line) if origin is not None else (manifest, None)
    return Finding("small_document", severity, message, spec.key, file, line)


def _is_small(spec: DocumentSpec) -> bool:
    """Rule 1: an `auto` text/file document the API would refuse to index."""
    return (
        spec.usage_mode is UsageMode.AUTO
        and spec.doc_type in (DocType.TEXT, DocType.FILE)
        and spec.size_bytes < MIN_INDEX_BYTES
    )


# --------------------------------------------------------------------------------------------
# Live side


@dataclass(frozen=True, slots=True)
class Attached:
    """One entry of the live `knowledge_base` array, resolved against the live documents.

    `marker` is set only for documents kbctl manages for this project+environment.
    """

    entry: KbEntry
    doc: LiveDocument | None
    marker: Marker | None
    times: int = 1  # how often the id appears in the live array (the API may allow repeats)

    @property
    def name(self) -> str:
        """The document's own name (the entry's copy of it may be stale)."""
        return self.doc.name if self.doc is not None else self.entry.name

    @property
    def key(self) -> str:
        assert self.marker is not None
        return self.marker.key

    @property
    def doc_type(self) -> DocType:
        return self.doc.doc_type if self.doc is not None else self.entry.doc_type


def managed_marker(target: Target, name: str, marker: Marker | None) -> Marker | None:
    """The marker if the document is this target's to manage, else None (unmanaged): the
    project's (ElevenLabs: shared by its environments, `kbctl.identity.owned`) or, where a
    provider does not share, the project+environment's."""
    found = marker if marker is not None else parse_marker(name)
    return owned(
        found, target.project, target.environment, shared=shares_documents(target.provider)
    )


def resolve_attached(target: Target, live: LiveState) -> tuple[Attached, ...]:
    """The live array in order; an id attached more than once counts at its first position."""
    by_id = {doc.id: doc for doc in live.documents}
    times = Counter(entry.id for entry in live.agent.knowledge_base)
    out: list[Attached] = []
    seen: set[str] = set()
    for entry in live.agent.knowledge_base:
        if entry.id in seen:
            continue
        seen.add(entry.id)
        doc = by_id.get(entry.id)
        if doc is not None:
            marker = managed_marker(target, doc.name, doc.marker)
        else:
            marker = managed_marker(target, entry.name, None)
        out.append(Attached(entry, doc, marker, times[entry.id]))
    return tuple(out)


def orphan_documents(
    target: Target, live: LiveState, attached: Iterable[Attached]
) -> tuple[tuple[LiveDocument, Marker], ...]:
    """Managed documents not attached to the agent, by id: orphans, and (with sharing) other
    environments' documents, told apart by `LiveState.shared` (`used_elsewhere`)."""
    attached_ids = {a.entry.id for a in attached}
    found: dict[str, tuple[LiveDocument, Marker]] = {}
    for doc in live.documents:
        marker = managed_marker(target, doc.name, doc.marker)
        if marker is not None and doc.id not in attached_ids:
            found.setdefault(doc.id, (doc, marker))
    return tuple(found[doc_id] for doc_id in sorted(found))


def used_elsewhere(target: Target, live: LiveState) -> dict[str, SharedUse]:
    """Managed documents another agent or branch uses (or may use), by id: as read before
    planning (`LiveState.shared`), and every unattached one whose older marker names another
    environment (that environment's to attach or clean up, never this one's orphan)."""
    out = {u.doc_id: u for u in live.shared or ()}
    attached = {e.id for e in live.agent.knowledge_base}
    for doc in live.documents:
        marker = managed_marker(target, doc.name, doc.marker)
        if (
            marker is not None
            and marker.environment not in (None, target.environment)
            and doc.id not in attached
        ):
            out.setdefault(doc.id, SharedUse(doc.id, (f"the {marker.environment} environment",)))
    return out


# --------------------------------------------------------------------------------------------
# Matching (rule 2)


class Fate(Enum):
    KEEP = "keep"
    RENAME = "rename"
    REPLACE = "replace"
    CREATE = "create"


@dataclass(frozen=True, slots=True)
class Match:
    """How one wanted document is satisfied."""

    wanted: Wanted
    fate: Fate
    attached: Attached | None = None  # keep/rename: the document kept; replace: superseded
    reuse: LiveDocument | None = None  # create/replace: the managed document reused
    #: Who else uses `reuse` (another environment's agent): a shared document, not an orphan.
    shared: SharedUse | None = None

    @property
    def edited_in_place(self) -> bool:
        """A replace of a document whose marker names the wanted content: it was edited."""
        return (
            self.fate is Fate.REPLACE
            and self.attached is not None
            and _hash12_of(self.attached) == self.wanted.hash12
        )


def _hash12_of(a: Attached) -> str | None:
    return a.marker.hash12 if a.marker is not None else None


def match_documents(
    wanted: Sequence[Wanted],
    attached: Sequence[Attached],
    orphans: Sequence[tuple[LiveDocument, Marker]],
    edited: frozenset[str] = frozenset(),
    elsewhere: Mapping[str, SharedUse] | None = None,
) -> tuple[list[Match], list[tuple[Attached, str]]]:
    """Decide each wanted document's fate; return the matches and the attached docs dropped.

    Wanted documents are visited in key order and candidates in array order (unattached ones
    in id order, those another agent uses first: sharing one copy beats keeping an orphan), so
    ties are broken the same way every time. A document in `edited` (its live content is no
    longer what its marker says) is never kept, renamed or reused: a key it holds is replaced
    (`Match.edited_in_place`).
    """
    elsewhere = elsewhere or {}
    wanted_keys = {w.key for w in wanted}
    by_key: dict[str, list[Attached]] = {}
    by_content: dict[tuple[str, DocType], list[Attached]] = {}  # undeclared keys: renames
    for a in attached:
        if a.marker is None:
            continue
        by_key.setdefault(a.marker.key, []).append(a)
        if a.marker.key not in wanted_keys and a.entry.id not in edited:
            by_content.setdefault((a.marker.hash12, a.doc_type), []).append(a)
    spare: dict[tuple[str, str, DocType], list[LiveDocument]] = {}
    for doc, marker in sorted(orphans, key=lambda o: (o[0].id not in elsewhere, o[0].id)):
        if doc.id not in edited:
            spare.setdefault((marker.key, marker.hash12, doc.doc_type), []).append(doc)

    claimed: set[str] = set()
    duplicates: set[str] = set()
    matches: list[Match] = []
    for want in wanted:
        same_key = by_key.get(want.key, [])
        exact = [
            a
            for a in same_key
            if a.marker is not None and a.marker.hash12 == want.hash12 and a.entry.id not in edited
        ]
        renames = [
            a
            for a in by_content.get((want.hash12, want.spec.doc_type), [])
            if a.entry.id not in claimed
        ]
        m: Match
        if exact:
            m = Match(want, Fate.KEEP, exact[0])
            duplicates.update(a.entry.id for a in same_key if a is not exact[0])
        elif renames:
            m = Match(want, Fate.RENAME, renames[0])
        else:
            reusable = spare.get((want.key, want.hash12, want.spec.doc_type), [])
            reuse = reusable.pop(0) if reusable else None
            shared = elsewhere.get(reuse.id) if reuse is not None else None
            if same_key:
                # An edited copy of the wanted content goes first: it is what the key held.
                same_key = sorted(same_key, key=lambda a: _hash12_of(a) != want.hash12)
                m = Match(want, Fate.REPLACE, same_key[0], reuse, shared)
                duplicates.update(a.entry.id for a in same_key[1:])
            else:
                m = Match(want, Fate.CREATE, None, reuse, shared)
        if m.attached is not None:
            claimed.add(m.attached.entry.id)
        matches.append(m)

    dropped = [
        (a, DUPLICATE if a.entry.id in duplicates else REMOVED)
        for a in attached
        if a.marker is not None and a.entry.id not in claimed
    ]
    return matches, dropped
