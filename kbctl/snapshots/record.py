"""The snapshot record: what one apply (or rollback) saw before its first change and after its last.

Owns the `Snapshot` dataclasses and their canonical JSON form (sorted keys, indent 2, trailing
newline, lists in a stable order) so that snapshot files diff well in git. Parsing is strict: any
shape problem is a `SnapshotError` naming the file, and an unknown `format_version` is refused.
Pure: no files, no clock (the store and the hook supply paths and times).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TypeVar

from kbctl.checks.report import ChecksReport, report_from_dict, report_to_dict
from kbctl.errors import SnapshotError
from kbctl.jsonread import JsonReader
from kbctl.model import (
    Chunking,
    ChunkingStrategy,
    DocType,
    Metadata,
    RagSettings,
    UsageMode,
)

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
    operation: str  # "apply" | "rollback"
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


# --------------------------------------------------------------------------------------------
# Serialisation


def _entry_dict(entry: SnapshotEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "name": entry.name,
        "type": entry.doc_type.value,
        "usage_mode": entry.usage_mode.value,
        "key": entry.key,
        "content_hash": entry.content_hash,
        "managed": entry.managed,
        "blob": entry.blob,
        "url": entry.url,
        "filename": entry.filename,
        "size_bytes": entry.size_bytes,
        # OpenAI only (absent for ElevenLabs documents):
        **({"metadata": dict(entry.metadata)} if entry.metadata else {}),
        **({"chunking": _chunking_dict(entry.chunking)} if entry.chunking else {}),
    }


def _chunking_dict(chunking: Chunking) -> dict[str, object]:
    size, overlap = chunking.effective()
    return {
        "strategy": chunking.strategy.value,
        "max_chunk_size_tokens": size,
        "chunk_overlap_tokens": overlap,
    }


def _rag_dict(rag: RagSettings) -> dict[str, object]:
    return {f.name: getattr(rag, f.name) for f in fields(RagSettings)}


def to_dict(snapshot: Snapshot) -> dict[str, object]:
    """The snapshot as plain JSON data."""
    done = snapshot.done
    data: dict[str, object] = {
        "format_version": snapshot.format_version,
        "id": snapshot.id,
        "environment": snapshot.environment,
        "project": snapshot.project,
        "manifest": snapshot.manifest,
        "kind": snapshot.kind.value,
        "created_at": snapshot.created_at,
        "apply_id": snapshot.apply_id,
        "seq": snapshot.seq,
        "git_commit": snapshot.git_commit,
        "operation": snapshot.operation,
        "rollback_of": snapshot.rollback_of,
        "agent": {
            "id": snapshot.agent.id,
            "version_id": snapshot.agent.version_id,
            "branch_id": snapshot.agent.branch_id,
        },
        "rag": _rag_dict(snapshot.rag),
        "knowledge_base": (
            None
            if snapshot.knowledge_base is None
            else [_entry_dict(e) for e in snapshot.knowledge_base]
        ),
        "outcome": snapshot.outcome,
        "done": {
            "created": sorted(done.created),
            "deleted": sorted(done.deleted),
            "kept": sorted(done.kept),
            "reused": sorted(done.reused),
            "agent_updated": done.agent_updated,
        },
        "plan_summary": dict(sorted(snapshot.plan_summary.items())),
        "notes": list(snapshot.notes),
    }
    if snapshot.checks:
        data["checks"] = {stage: report_to_dict(r) for stage, r in sorted(snapshot.checks.items())}
    return data


def dumps(snapshot: Snapshot) -> str:
    """Canonical JSON text: sorted keys, indent 2, trailing newline."""
    return json.dumps(to_dict(snapshot), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def snapshot_id(snapshot: Snapshot) -> str:
    """The id a snapshot gets: 8 hex of the sha256 of its content (id left out) and time."""
    data = to_dict(snapshot)
    data["id"] = ""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{text}|{snapshot.created_at}".encode()).hexdigest()[:8]


# --------------------------------------------------------------------------------------------
# Parsing (strict)


def _reader(source: str) -> JsonReader:
    """The strict reader of snapshot `source`: a bad field is a corrupt snapshot."""

    def fail(problem: str) -> SnapshotError:
        return SnapshotError(
            f"Snapshot {source} is corrupt",
            detail=problem,
            hint="Restore the file from git (snapshots are committed), or pick another snapshot "
            "with `kbctl snapshots list`.",
        )

    return JsonReader(fail)


def _rag_from(reader: JsonReader, value: object) -> RagSettings:
    data = reader.obj(value, "rag")

    def number(name: str) -> float | None:
        raw = data.get(name)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise reader.fail(f"rag.{name}: expected a number")
        return float(raw)

    enabled = data.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise reader.fail("rag.enabled: expected true, false or null")
    return RagSettings(
        enabled=enabled,
        embedding_model=reader.opt_str(data, "embedding_model", "rag"),
        max_vector_distance=number("max_vector_distance"),
        max_documents_length=reader.opt_int(data, "max_documents_length", "rag"),
        max_retrieved_rag_chunks_count=reader.opt_int(
            data, "max_retrieved_rag_chunks_count", "rag"
        ),
        num_candidates=reader.opt_int(data, "num_candidates", "rag"),
    )


def _entry_from(reader: JsonReader, value: object, where: str) -> SnapshotEntry:
    data = reader.obj(value, where)
    content_hash = reader.opt_str(data, "content_hash", where)
    blob = reader.opt_str(data, "blob", where)
    for name, digest in (("content_hash", content_hash), ("blob", blob)):
        if digest is not None and not _is_sha256(digest):
            raise reader.fail(f"{where}.{name}: expected 64 lowercase hex digits")
    return SnapshotEntry(
        id=reader.str_(data, "id", where),
        name=reader.str_(data, "name", where),
        doc_type=reader.enum(DocType, data, "type", where),
        usage_mode=reader.enum(UsageMode, data, "usage_mode", where),
        key=reader.opt_str(data, "key", where),
        content_hash=content_hash,
        managed=reader.bool_(data, "managed", where),
        blob=blob,
        url=reader.opt_str(data, "url", where),
        filename=reader.opt_str(data, "filename", where),
        size_bytes=reader.opt_int(data, "size_bytes", where),
        metadata=_metadata_from(reader, data.get("metadata"), f"{where}.metadata"),
        chunking=_chunking_from(reader, data.get("chunking"), f"{where}.chunking"),
    )


def _metadata_from(reader: JsonReader, value: object, where: str) -> Metadata:
    if value is None:
        return ()
    data = reader.obj(value, where)
    if not all(isinstance(v, str | int | float | bool) for v in data.values()):
        raise reader.fail(f"{where}: values must be strings, numbers or booleans")
    return tuple(sorted((k, v) for k, v in data.items() if isinstance(v, str | int | float | bool)))


def _chunking_from(reader: JsonReader, value: object, where: str) -> Chunking | None:
    if value is None:
        return None
    data = reader.obj(value, where)
    strategy = reader.enum(ChunkingStrategy, data, "strategy", where)
    if strategy is ChunkingStrategy.AUTO:
        return Chunking()
    size = reader.int_(data, "max_chunk_size_tokens", where)
    return Chunking(strategy, size, reader.int_(data, "chunk_overlap_tokens", where))


def entry_to_json(entry: SnapshotEntry) -> dict[str, object]:
    """One entry as the record writes it (the snapshot index keeps entries in this form)."""
    return _entry_dict(entry)


def entry_from_json(value: object, source: str) -> SnapshotEntry:
    """An entry written by `entry_to_json`, checked as strictly as in a record.

    Raises:
        SnapshotError: a field is missing or malformed.
    """
    return _entry_from(_reader(source), value, "entry")


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def loads(text: str, source: str) -> Snapshot:
    """Parse a snapshot file's text; `source` names it in errors.

    Raises:
        SnapshotError: bad JSON, a wrong shape, or an unknown format version.
    """
    reader = _reader(source)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise reader.fail(f"not valid JSON: {err.msg} (line {err.lineno})") from None
    data = reader.obj(raw, "snapshot")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise SnapshotError(
            f"Snapshot {source} has an unknown format version {version!r}",
            detail=f"This kbctl reads snapshot format version {FORMAT_VERSION}.",
            hint="Use the kbctl version that wrote it, or pick another snapshot.",
        )
    agent = reader.obj(data.get("agent"), "agent")
    done = reader.obj(data.get("done", {}), "done")
    summary = reader.obj(data.get("plan_summary", {}), "plan_summary")
    counts: dict[str, int] = {}
    for name, count in summary.items():
        if isinstance(count, bool) or not isinstance(count, int):
            raise reader.fail(f"plan_summary.{name}: expected an integer")
        counts[name] = count
    checks: dict[str, ChecksReport] = {}
    for stage, report in reader.obj(data.get("checks", {}), "checks").items():
        if stage not in CHECK_STAGES:
            raise reader.fail(f"checks.{stage}: unknown stage")
        try:
            checks[stage] = report_from_dict(report)
        except ValueError as err:
            raise reader.fail(f"checks.{stage}: {err}") from None
    kb_raw = data.get("knowledge_base")
    knowledge_base: tuple[SnapshotEntry, ...] | None = None
    if kb_raw is not None:
        if not isinstance(kb_raw, list):
            raise reader.fail("knowledge_base: expected a list or null")
        knowledge_base = tuple(
            _entry_from(reader, item, f"knowledge_base[{i}]") for i, item in enumerate(kb_raw)
        )
    return Snapshot(
        id=reader.str_(data, "id", "snapshot"),
        environment=reader.str_(data, "environment", "snapshot"),
        project=reader.str_(data, "project", "snapshot"),
        manifest=reader.str_(data, "manifest", "snapshot"),
        kind=reader.enum(SnapshotKind, data, "kind", "snapshot"),
        created_at=reader.str_(data, "created_at", "snapshot"),
        apply_id=reader.str_(data, "apply_id", "snapshot"),
        seq=reader.int_(data, "seq", "snapshot"),
        git_commit=reader.opt_str(data, "git_commit", "snapshot"),
        operation=reader.str_(data, "operation", "snapshot"),
        rollback_of=reader.opt_str(data, "rollback_of", "snapshot"),
        agent=SnapshotAgent(
            id=reader.str_(agent, "id", "agent"),
            version_id=reader.opt_str(agent, "version_id", "agent"),
            branch_id=reader.opt_str(agent, "branch_id", "agent"),
        ),
        rag=_rag_from(reader, data.get("rag")),
        knowledge_base=knowledge_base,
        outcome=reader.str_(data, "outcome", "snapshot"),
        done=Done(
            created=reader.str_list(done, "created", "done"),
            deleted=reader.str_list(done, "deleted", "done"),
            kept=reader.str_list(done, "kept", "done"),
            reused=reader.str_list(done, "reused", "done"),
            agent_updated=bool(done.get("agent_updated", False)),
        ),
        plan_summary=counts,
        notes=reader.str_list(data, "notes", "snapshot"),
        checks=checks,
    )
