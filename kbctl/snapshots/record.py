"""The snapshot record: what one apply (or rollback) saw before its first change and after its last.

Owns the `Snapshot` dataclasses and their canonical JSON form (sorted keys, indent 2, trailing
newline, lists in a stable order) so that snapshot files diff well in git. Parsing is strict: any
shape problem is a `SnapshotError` naming the file, and an unknown `format_version` is refused.
Pure: no files, no clock (the store and the hook supply paths and times).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from kbctl.checks.report import ChecksReport
from kbctl.chunking import Chunking, Metadata
from kbctl.model import DocType, RagSettings, UsageMode

FORMAT_VERSION = 1

_E = TypeVar("_E", bound=StrEnum)

#: `outcome` of a "before" snapshot, and of an "after" snapshot whose run has not finished.
PENDING = "pending"
#: `outcome` of an "after" snapshot when the run changed something.
APPLIED = "applied"
#: `outcome` of an "after" snapshot when the run had nothing to change.
NO_CHANGES = "no_changes"
#: `outcome` prefix of an "after" snapshot when the run failed (`failed: <summary>`).
FAILED = "failed"
#: `outcome` of an "after" snapshot when the run stopped at the index gate (agent unchanged).
INDEX_GATE = "index_gate"
#: `outcome` of an "after" snapshot when someone else changed the agent (agent unchanged).
CONCURRENT_CHANGE = "concurrent_change"
#: `outcome` of an "after" snapshot when the run was stopped by a signal at a safe point.
INTERRUPTED = "interrupted"
#: `outcome` of the checkpoint an unfinished run keeps up to date (what it did so far).
IN_PROGRESS = "in_progress"
#: Keys of `checks`: when apply ran the retrieval checks (`kbctl.checks.gate.CheckStage`).
CHECK_STAGES = ("before_swap", "after_swap")


class SnapshotKind(StrEnum):
    """Which end of a run a snapshot records."""

    BEFORE = "before"
    AFTER = "after"


@dataclass(frozen=True, slots=True)
class SnapshotAgent:
    """The agent as it was: id and the version the knowledge base belongs to."""

    id: str
    version_id: str | None
    branch_id: str | None


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """One entry of the agent's `knowledge_base`, with what it takes to re-create it.

    Attributes:
        key: kbctl's key (from the ownership marker); None for an unmanaged document.
        content_hash: kbctl's full content hash; None when not known (unmanaged, not captured).
        managed: the document carries this project+environment's marker.
        blob: sha256 of the document's canonical bytes, stored under `blobs/` (text and file
            documents); None when the content could not be captured or for URL documents.
        url: the URL of a URL document (its content, as kbctl hashes it).
        filename: the original file name of a file document, when known.
    """

    id: str
    name: str
    doc_type: DocType
    usage_mode: UsageMode
    key: str | None
    content_hash: str | None
    managed: bool
    blob: str | None = None
    url: str | None = None
    filename: str | None = None
    size_bytes: int | None = None
    metadata: Metadata = ()  # OpenAI: the user's attributes, restored with the content
    chunking: Chunking | None = None  # OpenAI: the chunking it was attached with

    @property
    def recreatable(self) -> bool:
        """True when the snapshot holds enough to create this document again."""
        if not self.managed or self.content_hash is None:
            return False
        if self.doc_type is DocType.URL:
            return self.url is not None
        return self.blob is not None


@dataclass(frozen=True, slots=True)
class Done:
    """What a run did (ids), as far as it got."""

    created: tuple[str, ...] = ()  # uploaded by the run
    reused: tuple[str, ...] = ()  # managed orphans attached again, no upload
    deleted: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()  # meant to be deleted but left in place (the notes say why)
    agent_updated: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One snapshot file.

    `knowledge_base` is None when the state could not be read (an "after" snapshot of a run whose
    final read failed); such a snapshot cannot be rolled back to. `checks` holds an "after"
    snapshot's retrieval checks by stage (`before_swap`, `after_swap`); the key is left out of
    the file when the run ran none.
    """

    id: str
    environment: str
    project: str
    manifest: str
    kind: SnapshotKind
    created_at: str
    apply_id: str
    seq: int
    git_commit: str | None
    operation: str  # "apply" | "rollback" | "promote"
    agent: SnapshotAgent
    rag: RagSettings
    knowledge_base: tuple[SnapshotEntry, ...] | None
    outcome: str
    done: Done = Done()
    plan_summary: dict[str, int] = field(default_factory=dict)
    rollback_of: str | None = None
    notes: tuple[str, ...] = ()
    format_version: int = FORMAT_VERSION
    checks: dict[str, ChecksReport] = field(default_factory=dict)

    @property
    def managed_entries(self) -> tuple[SnapshotEntry, ...]:
        """The entries kbctl owns (what a rollback restores)."""
        return tuple(e for e in (self.knowledge_base or ()) if e.managed)

    @property
    def changed(self) -> bool:
        """True for an "after" snapshot of a run that says it changed the agent (or finished
        applying). `previous` does not trust it alone: see `kbctl.snapshots.history`."""
        return self.kind is SnapshotKind.AFTER and (
            self.outcome == APPLIED or self.done.agent_updated
        )

    @property
    def file_name(self) -> str:
        """`<YYYYMMDDTHHMMSSZ>-<id>.json`."""
        stamp = self.created_at.replace("-", "").replace(":", "")
        return f"{stamp}-{self.id}.json"


def unread_sort_key(file: str) -> tuple[str, int, str]:
    """Where a record that could not be read sorts among readable ones (time, sequence, name):
    at the time its file name gives, written as `created_at` is (`20260101T120000Z-…` sorts as
    `2026-01-01T12:00:00Z`), before any record written that second."""
    s = file
    if len(s) >= 16 and s[8] == "T" and s[15] == "Z" and (s[:8] + s[9:15]).isdigit():
        return (f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}Z", -1, file)
    return (file[:16], -1, file)
