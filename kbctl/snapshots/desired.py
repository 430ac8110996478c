"""A snapshot as a desired state: the `Target` a rollback plans and applies, unchanged machinery.

Rollback is not a replay of reverse operations: the snapshot's managed documents (rebuilt from
their blobs, with the recorded keys, hashes and usage modes) and its RAG settings become the
desired state, and the ordinary planner and gated executor take the agent there. Documents that
still exist with the recorded hash are kept or reused (no upload); the others are created from
the blobs and indexed before the swap. Unmanaged documents are never touched: whatever is attached
now stays attached.

Owns the checks that make a snapshot usable for a rollback (`check_restorable`, before any API
call) and the conversion (`rollback_target`, once the live state is known). Pure: no files, no API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from kbctl.errors import SnapshotError
from kbctl.identity import HASH_CHARS, parse_marker
from kbctl.model import (
    MIN_INDEX_BYTES,
    DocType,
    DocumentSpec,
    LiveState,
    Target,
    UsageMode,
)
from kbctl.snapshots.record import Snapshot, SnapshotEntry


@dataclass(frozen=True, slots=True)
class RollbackTarget:
    """The desired state of a rollback and what the user should know about it."""

    target: Target
    notes: tuple[str, ...]


def check_restorable(snapshot: Snapshot, base: Target) -> None:
    """Refuse a snapshot that cannot be the desired state of `base` (no API call is made).

    Raises:
        SnapshotError: another environment, project or agent; no recorded knowledge base.
    """
    where = f"Snapshot {snapshot.id}"
    if snapshot.environment != base.environment:
        raise SnapshotError(
            f"{where} belongs to environment '{snapshot.environment}', not '{base.environment}'",
            hint=f"See this environment's snapshots: kbctl snapshots list -e {base.environment}",
        )
    if snapshot.project != base.project:
        raise SnapshotError(
            f"{where} belongs to project '{snapshot.project}', not '{base.project}'",
            hint="Pass the snapshot's manifest with -f.",
        )
    if snapshot.agent.id != base.agent_id:
        raise SnapshotError(
            f"{where} records agent {snapshot.agent.id}, but the manifest's environment "
            f"'{base.environment}' now points at agent {base.agent_id}",
            hint="Roll back with the manifest that still names that agent.",
        )
    if snapshot.knowledge_base is None:
        raise SnapshotError(
            f"{where} does not record the agent's knowledge base",
            detail="It was written after a run whose final read of the agent failed.",
            hint="Pick the run's 'before' snapshot, or another one: kbctl snapshots list.",
        )
    for entry in snapshot.managed_entries:
        if entry.key is None:
            raise SnapshotError(
                f"{where} is corrupt", detail=f"Managed document {entry.id} has no key."
            )


def rollback_target(
    snapshot: Snapshot, contents: Mapping[str, bytes], base: Target, live: LiveState
) -> RollbackTarget:
    """The snapshot's managed documents and RAG settings as the desired state of `base`.

    Args:
        snapshot: a snapshot `check_restorable` accepted.
        contents: the verified blob contents, by digest (`SnapshotStore.verify`).
        base: the manifest's target (connection, policy and protection are kept from it).
        live: the live state now (documents whose content was not captured must still exist).

    Raises:
        SnapshotError: a document that no longer exists and whose content was not captured.
    """
    check_restorable(snapshot, base)
    specs: list[DocumentSpec] = []
    missing: list[str] = []
    seen: set[str] = set()
    for entry in snapshot.managed_entries:
        assert entry.key is not None
        if entry.key in seen:
            continue  # a duplicate attachment of one key: the planner keeps one
        seen.add(entry.key)
        spec = _spec(entry, contents)
        if spec is None:
            spec = _kept_only(entry, live)
        if spec is None:
            missing.append(f"{entry.key} ({entry.id}, {entry.doc_type.value})")
            continue
        specs.append(spec)
    if missing:
        raise SnapshotError(
            f"Snapshot {snapshot.id} cannot be restored: documents are gone and were not captured",
            detail="\n".join(missing),
            hint="kbctl cannot download uploaded files back; restore them through the manifest.",
        )
    notes = [
        f"unmanaged document {e.name!r} ({e.id}) was attached then; kbctl leaves unmanaged "
        "documents as they are now"
        for e in snapshot.knowledge_base or ()
        if not e.managed and all(k.id != e.id for k in live.agent.knowledge_base)
    ]
    target = replace(base, rag=snapshot.rag, documents=tuple(specs), checks=())
    return RollbackTarget(target, tuple(notes))


def _spec(entry: SnapshotEntry, contents: Mapping[str, bytes]) -> DocumentSpec | None:
    """The document rebuilt from the snapshot, or None when its content was not captured."""
    if not entry.recreatable or entry.content_hash is None or entry.key is None:
        return None
    if entry.doc_type is DocType.URL:
        assert entry.url is not None
        content = entry.url.encode("utf-8")
    else:
        assert entry.blob is not None
        content = contents[entry.blob]
    return DocumentSpec(
        key=entry.key,
        doc_type=entry.doc_type,
        usage_mode=entry.usage_mode,
        content=content,
        content_hash=entry.content_hash,
        filename=entry.filename,
        url=entry.url,
        metadata=entry.metadata,
        chunking=entry.chunking,
    )


def _kept_only(entry: SnapshotEntry, live: LiveState) -> DocumentSpec | None:
    """A stand-in for an uncaptured document that still exists live with the recorded hash.

    The planner keeps (or reuses) it by key and hash, so its content is never uploaded; the
    stand-in only carries the hash prefix and a size that keeps the small-document rule quiet.
    """
    recorded = parse_marker(entry.name)
    if recorded is None or entry.key is None:
        return None
    hash12 = (entry.content_hash or recorded.hash12)[:HASH_CHARS]
    for doc in live.documents:
        marker = doc.marker
        if (
            marker is not None
            and marker.key == entry.key
            and marker.hash12 == hash12
            and doc.doc_type is entry.doc_type
        ):
            size = max(doc.size_bytes, entry.size_bytes or 0)
            if entry.usage_mode is UsageMode.AUTO:
                size = max(size, MIN_INDEX_BYTES)
            return DocumentSpec(
                key=entry.key,
                doc_type=entry.doc_type,
                usage_mode=entry.usage_mode,
                content=b"\0" * size,
                content_hash=entry.content_hash or hash12.ljust(64, "0"),
                filename=entry.filename,
                url=entry.url,
                metadata=entry.metadata,
                chunking=entry.chunking,
                content_known=False,
            )
    return None
