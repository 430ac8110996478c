"""Capturing document contents for a snapshot: what a rollback needs to re-create each document.

For every managed document attached to the agent, the content is stored as a blob, taken
(cheapest first) from the target's own specs when key and hash match, from a blob an earlier
snapshot stored, or, for text documents, from the content endpoint (checked against the marker's
hash). What cannot be captured (an uploaded file the API cannot give back) becomes a note; a
rollback then needs that document to still exist. Never writes snapshot files (the hook does).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from kbctl.errors import ApiError
from kbctl.identity import (
    HASH_CHARS,
    canonical_text,
    content_hash,
    identity_hash,
    owned,
    parse_marker,
    shares_documents,
)
from kbctl.model import DocType, DocumentSpec, KbEntry, LiveDocument, Marker, Target, UsageMode
from kbctl.provider.base import Provider
from kbctl.snapshots.record import SnapshotEntry
from kbctl.snapshots.store import SnapshotStore

#: Content reads in flight at once (ElevenLabs' lowest paid plans allow 3-5 concurrent requests).
FETCH_CONCURRENCY = 4


class ContentCapture:
    """Turns an agent's `knowledge_base` into snapshot entries, storing contents as blobs."""

    def __init__(self, store: SnapshotStore, provider: Provider) -> None:
        self.store = store
        self.provider = provider
        self._index: _KnownContents | None = None
        self._recent: dict[tuple[str, str, DocType], SnapshotEntry] = {}
        self._specs: tuple[Target, dict[str, DocumentSpec]] | None = None

    def specs(self, target: Target) -> dict[str, DocumentSpec]:
        """`genuine_specs(target)`, hashed once per target (checkpoints ask often)."""
        if self._specs is None or self._specs[0] is not target:
            self._specs = (target, genuine_specs(target))
        return self._specs[1]

    def store_contents(self, specs: Iterable[DocumentSpec | None]) -> None:
        """Store the blobs of `specs` in parallel (a later `from_spec` finds them written)."""
        self.store.blobs.put_many(
            s.content for s in specs if s is not None and s.doc_type is not DocType.URL
        )

    def stage(self, spec: DocumentSpec | None) -> None:
        """Start storing the blob of `spec` in the background."""
        if spec is not None and spec.doc_type is not DocType.URL:
            self.store.blobs.stage(spec.content)

    def entries(
        self,
        target: Target,
        knowledge_base: Iterable[KbEntry],
        documents: Iterable[LiveDocument],
    ) -> tuple[tuple[SnapshotEntry, ...], tuple[str, ...]]:
        """The snapshot entries of an agent's array (and notes), every managed content stored."""
        by_id = {d.id: d for d in documents}
        specs = self.specs(target)
        knowledge_base = tuple(knowledge_base)
        fetched_by_id = self._fetch_all(target, knowledge_base, by_id, specs)
        self.store_contents(_matching(target, specs, knowledge_base, by_id))
        entries: list[SnapshotEntry] = []
        notes: list[str] = []
        seen: set[str] = set()
        for entry in knowledge_base:
            if entry.id in seen:
                continue
            seen.add(entry.id)
            doc = by_id.get(entry.id)
            name = doc.name if doc is not None else entry.name
            size = doc.size_bytes if doc is not None and doc.size_bytes else None
            marker = managed_marker(target, doc.marker if doc is not None else None, name)
            if marker is None:
                entries.append(
                    SnapshotEntry(
                        entry.id,
                        name,
                        entry.doc_type,
                        entry.usage_mode,
                        None,
                        None,
                        False,
                        size_bytes=size,
                    )
                )
                continue
            spec = specs.get(marker.key)
            if (
                spec is not None
                and identity_hash(spec.content_hash, spec.chunking)[:HASH_CHARS] == marker.hash12
                and spec.doc_type is entry.doc_type
            ):
                entries.append(self.from_spec(entry.id, name, entry.usage_mode, spec, size))
                continue
            known = self._earlier(marker.key, marker.hash12, entry.doc_type)
            if known is not None:
                entries.append(
                    replace(
                        known, id=entry.id, name=name, usage_mode=entry.usage_mode, size_bytes=size
                    )
                )
                continue
            fetched, note = fetched_by_id[entry.id]
            if note:
                notes.append(note)
            entries.append(
                SnapshotEntry(
                    entry.id,
                    name,
                    entry.doc_type,
                    entry.usage_mode,
                    marker.key,
                    fetched[0] if fetched else None,
                    True,
                    blob=fetched[1] if fetched else None,
                    size_bytes=size,
                )
            )
        return tuple(_live_metadata(e, by_id.get(e.id)) for e in entries), tuple(notes)

    def from_spec(
        self,
        doc_id: str,
        name: str,
        usage_mode: UsageMode,
        spec: DocumentSpec,
        size: int | None,
    ) -> SnapshotEntry:
        blob = None if spec.doc_type is DocType.URL else self.store.blobs.put(spec.content)
        return SnapshotEntry(
            doc_id,
            name,
            spec.doc_type,
            usage_mode,
            spec.key,
            spec.content_hash,
            True,
            blob=blob,
            url=spec.url if spec.doc_type is DocType.URL else None,
            filename=spec.filename,
            size_bytes=size if size is not None else (spec.size_bytes or None),
            metadata=spec.metadata,
            chunking=spec.chunking,
        )

    def _fetch_all(
        self,
        target: Target,
        knowledge_base: tuple[KbEntry, ...],
        by_id: dict[str, LiveDocument],
        specs: dict[str, DocumentSpec],
    ) -> dict[str, tuple[tuple[str, str] | None, str]]:
        """Read, in parallel, the contents neither the specs nor earlier blobs have."""
        wanted: dict[str, tuple[KbEntry, Marker]] = {}
        for entry in knowledge_base:
            doc = by_id.get(entry.id)
            name = doc.name if doc is not None else entry.name
            marker = managed_marker(target, doc.marker if doc is not None else None, name)
            if marker is None or entry.id in wanted:
                continue
            spec = specs.get(marker.key)
            if (
                spec is not None
                and identity_hash(spec.content_hash, spec.chunking)[:HASH_CHARS] == marker.hash12
                and spec.doc_type is entry.doc_type
            ):
                continue
            if self._earlier(marker.key, marker.hash12, entry.doc_type) is not None:
                continue
            wanted[entry.id] = (entry, marker)
        if not wanted:
            return {}
        with ThreadPoolExecutor(max_workers=FETCH_CONCURRENCY) as pool:
            futures = {i: pool.submit(self._fetch, e, m) for i, (e, m) in wanted.items()}
            return {i: future.result() for i, future in futures.items()}

    def _fetch(self, entry: KbEntry, marker: Marker) -> tuple[tuple[str, str] | None, str]:
        """(content hash, blob) of a text document read from the API, or a note why not."""
        label = f"{marker.key} ({entry.id})"
        if entry.doc_type is not DocType.TEXT:
            what = "the original file" if entry.doc_type is DocType.FILE else "its URL"
            return None, (
                f"{label}: content not captured (the API cannot give back {what}); "
                "a rollback can keep it but not re-create it"
            )
        try:
            raw = self.provider.document_content(entry.id)
            data = canonical_text(raw.decode("utf-8"))
        except (ApiError, UnicodeDecodeError) as err:
            return None, f"{label}: content not captured ({err})"
        digest = content_hash(DocType.TEXT, data)
        if digest[:HASH_CHARS] != marker.hash12:
            return None, (
                f"{label}: content not captured (the content endpoint returned text whose hash "
                f"{digest[:HASH_CHARS]} is not the marker's {marker.hash12})"
            )
        return (digest, self.store.blobs.put(data)), ""

    def recent(self, entries: Iterable[SnapshotEntry]) -> None:
        """Contents a recent record holds (looked up before the folders' content index, which
        is read only when they do not have a document's content)."""
        for entry in entries:
            if entry.managed and entry.key and entry.content_hash and entry.recreatable:
                wanted = (entry.key, entry.content_hash[:HASH_CHARS], entry.doc_type)
                self._recent.setdefault(wanted, entry)

    def _earlier(self, key: str, hash12: str, doc_type: DocType) -> SnapshotEntry | None:
        """The entry an earlier snapshot stored for this content, if its blob still exists."""
        found = self._recent.get((key, hash12, doc_type))
        if found is not None and (found.blob is None or self.store.has_blob(found.blob)):
            return found
        return self._known().get((key, hash12, doc_type))

    def _known(self) -> _KnownContents:
        """Contents earlier snapshots captured, by (key, hash12, type): from the folders'
        content index, each entry parsed only when a document asks for it."""
        if self._index is None:
            self._index = _KnownContents(self.store)
        return self._index


def genuine_specs(target: Target) -> dict[str, DocumentSpec]:
    """The target's specs whose content really has their hash, by key.

    A rollback's target carries stand-ins for documents it only keeps (their content was never
    captured); a stand-in must not become a blob.
    """
    return {
        s.key: s for s in target.documents if content_hash(s.doc_type, s.content) == s.content_hash
    }


def managed_marker(target: Target, marker: Marker | None, name: str) -> Marker | None:
    """The marker when the document is this target's to manage (the project's, where its
    environments share documents), else None."""
    found = marker if marker is not None else parse_marker(name)
    return owned(
        found, target.project, target.environment, shared=shares_documents(target.provider)
    )


def _live_metadata(entry: SnapshotEntry, doc: LiveDocument | None) -> SnapshotEntry:
    """A managed entry with the metadata its live document carries (OpenAI), which is what
    the workspace had, whatever the manifest says now."""
    if not entry.managed or doc is None or doc.metadata is None:
        return entry
    return replace(entry, metadata=doc.metadata)


def _matching(
    target: Target,
    specs: dict[str, DocumentSpec],
    knowledge_base: Iterable[KbEntry],
    by_id: dict[str, LiveDocument],
) -> list[DocumentSpec]:
    """The specs whose content the live entries hold (their blobs come from the manifest)."""
    found: list[DocumentSpec] = []
    for entry in knowledge_base:
        doc = by_id.get(entry.id)
        name = doc.name if doc is not None else entry.name
        marker = managed_marker(target, doc.marker if doc is not None else None, name)
        spec = specs.get(marker.key) if marker is not None else None
        if (
            spec is not None
            and marker is not None
            and identity_hash(spec.content_hash, spec.chunking)[:HASH_CHARS] == marker.hash12
            and spec.doc_type is entry.doc_type
        ):
            found.append(spec)
    return found


class _KnownContents:
    """(key, hash12, type) → an earlier snapshot's entry whose blob still exists; an entry is
    parsed and its blob checked the first time it is looked up."""

    def __init__(self, store: SnapshotStore) -> None:
        self._store = store
        self._index = store.content_index()
        self._digests: dict[tuple[str, str, DocType], str] = {}
        self._found: dict[tuple[str, str, DocType], SnapshotEntry | None] = {}
        types = {t.value: t for t in DocType}
        for digest, key, doc_type, _blob in self._index.outline():
            kind = types.get(doc_type or "")
            if key is not None and kind is not None:
                self._digests.setdefault((key, digest[:HASH_CHARS], kind), digest)

    def get(self, wanted: tuple[str, str, DocType]) -> SnapshotEntry | None:
        """The entry for (key, hash12, type), when its content can still be read back."""
        if wanted in self._found:
            return self._found[wanted]
        digest = self._digests.get(wanted)
        entry = None if digest is None else self._index.get(digest)
        if entry is not None and entry.blob is not None and not self._store.has_blob(entry.blob):
            entry = None
        self._found[wanted] = entry
        return entry
