"""`kbctl snapshots diff A B`: what changed between two snapshots, as a value.

Owns matching the two knowledge bases (managed entries by key, unmanaged ones by document id),
what counts as changed (content hash, type, usage mode, the document id: a re-upload of the same
content), the content diff of a text document from the two stored blobs, and the RAG settings
compared field by field. Reads blobs through the `read_blob` it is given; never prints and
never touches the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from kbctl.contentdiff import unified_diff
from kbctl.errors import KbctlError
from kbctl.identity import HASH_CHARS
from kbctl.model import DocType
from kbctl.snapshots.record import Snapshot, SnapshotEntry

__all__ = ["DocumentDelta", "SnapshotDiff", "compare_snapshots", "diff_to_dict"]

SettingValue = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class DocumentDelta:
    """One document that differs: `added`, `removed` or `changed` (then `fields` say how)."""

    key: str  # kbctl's key; for an unmanaged document its name
    change: str  # "added" | "removed" | "changed"
    before: SnapshotEntry | None
    after: SnapshotEntry | None
    fields: tuple[tuple[str, str | None, str | None], ...] = ()
    diff: str | None = None  # text documents whose content changed, both blobs readable


@dataclass(frozen=True, slots=True)
class SnapshotDiff:
    """Snapshot `a` against snapshot `b` (b is the later one, usually)."""

    a: Snapshot
    b: Snapshot
    documents: tuple[DocumentDelta, ...]
    settings: tuple[tuple[str, SettingValue, SettingValue], ...]
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the knowledge bases and settings are the same."""
        return not self.documents and not self.settings


def compare_snapshots(
    a: Snapshot, b: Snapshot, read_blob: Callable[[str], bytes] | None
) -> SnapshotDiff:
    """Compare `a` with `b`; `read_blob` None means no content diffs (`--no-diff`)."""
    notes: list[str] = []
    if (a.project, a.environment, a.agent.id) != (b.project, b.environment, b.agent.id):
        notes.append(
            f"The snapshots are of different agents: {a.project}/{a.environment} "
            f"({a.agent.id}) and {b.project}/{b.environment} ({b.agent.id})."
        )
    for snap in (a, b):
        if snap.knowledge_base is None:
            notes.append(f"Snapshot {snap.id} has no knowledge base (its read failed).")
    before, after = _by_identity(a), _by_identity(b)
    deltas: list[DocumentDelta] = []
    for ident in sorted(before.keys() | after.keys()):
        old, new = before.get(ident), after.get(ident)
        label = ident[1]
        if old is None and new is not None:
            deltas.append(DocumentDelta(label, "added", None, new))
        elif new is None and old is not None:
            deltas.append(DocumentDelta(label, "removed", old, None))
        elif old is not None and new is not None:
            changed = _fields(old, new)
            if changed:
                diff = _content_diff(old, new, label, read_blob, notes)
                deltas.append(DocumentDelta(label, "changed", old, new, changed, diff))
    settings = tuple(
        (f.name, getattr(a.rag, f.name), getattr(b.rag, f.name))
        for f in fields(a.rag)
        if getattr(a.rag, f.name) != getattr(b.rag, f.name)
    )
    return SnapshotDiff(a, b, tuple(deltas), settings, tuple(notes))


def _by_identity(snapshot: Snapshot) -> dict[tuple[int, str], SnapshotEntry]:
    """Managed entries by key, unmanaged ones by id (shown by name); first occurrence wins."""
    out: dict[tuple[int, str], SnapshotEntry] = {}
    for entry in snapshot.knowledge_base or ():
        ident = (0, entry.key) if entry.managed and entry.key else (1, f"{entry.name} ({entry.id})")
        out.setdefault(ident, entry)
    return out


def _fields(
    old: SnapshotEntry, new: SnapshotEntry
) -> tuple[tuple[str, str | None, str | None], ...]:
    out: list[tuple[str, str | None, str | None]] = []
    if old.content_hash != new.content_hash:
        out.append(("content", _short(old.content_hash), _short(new.content_hash)))
    if old.doc_type is not new.doc_type:
        out.append(("doc_type", old.doc_type.value, new.doc_type.value))
    if old.usage_mode is not new.usage_mode:
        out.append(("usage_mode", old.usage_mode.value, new.usage_mode.value))
    if old.url != new.url:
        out.append(("url", old.url, new.url))
    if old.id != new.id:
        out.append(("id", old.id, new.id))
    return tuple(out)


def _short(digest: str | None) -> str | None:
    return digest[:HASH_CHARS] if digest else digest


def _content_diff(
    old: SnapshotEntry,
    new: SnapshotEntry,
    label: str,
    read_blob: Callable[[str], bytes] | None,
    notes: list[str],
) -> str | None:
    if read_blob is None or old.blob is None or new.blob is None or old.blob == new.blob:
        return None
    if DocType.TEXT not in (old.doc_type, new.doc_type):
        return None  # files: extracted text is not what was uploaded; sizes and hashes say it
    try:
        before, after = read_blob(old.blob), read_blob(new.blob)
    except KbctlError as err:
        notes.append(f"{label}: no content diff ({err.summary}).")
        return None
    return unified_diff(
        before.decode("utf-8", errors="replace"),
        after.decode("utf-8", errors="replace"),
        label,
        labels=("a", "b"),
    )


def diff_to_dict(result: SnapshotDiff) -> dict[str, object]:
    """The JSON form (`kbctl snapshots diff --format json`)."""

    def entry(e: SnapshotEntry | None) -> dict[str, object] | None:
        if e is None:
            return None
        return {
            "id": e.id,
            "name": e.name,
            "doc_type": e.doc_type.value,
            "usage_mode": e.usage_mode.value,
            "content_hash": e.content_hash,
            "size_bytes": e.size_bytes,
            "managed": e.managed,
        }

    return {
        "a": result.a.id,
        "b": result.b.id,
        "documents": [
            {
                "key": d.key,
                "change": d.change,
                "before": entry(d.before),
                "after": entry(d.after),
                "fields": [{"field": f, "before": x, "after": y} for f, x, y in d.fields],
                "diff": d.diff,
            }
            for d in result.documents
        ],
        "settings": [{"field": f, "before": x, "after": y} for f, x, y in result.settings],
        "notes": list(result.notes),
    }
