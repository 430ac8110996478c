"""The snapshot file format, both ways: a `Snapshot` to canonical JSON, and back, strictly.

Reading checks every field's type and names the one that is wrong (a corrupt snapshot is refused,
never half-read); writing is deterministic, so a record's id is stable. No I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields

from kbctl.checks.report import ChecksReport, report_from_dict, report_to_dict
from kbctl.chunking import Chunking, ChunkingStrategy, Metadata
from kbctl.errors import SnapshotError
from kbctl.jsonread import JsonReader
from kbctl.model import DocType, RagSettings, UsageMode
from kbctl.snapshots.record import (
    CHECK_STAGES,
    FORMAT_VERSION,
    Done,
    Snapshot,
    SnapshotAgent,
    SnapshotEntry,
    SnapshotKind,
)

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
    return snapshot_from_json(raw, source)


def snapshot_from_json(raw: object, source: str) -> Snapshot:
    """A full record's parsed JSON as a `Snapshot`; `source` names it in errors.

    Raises:
        SnapshotError: a wrong shape, or an unknown format version.
    """
    reader = _reader(source)
    data = reader.obj(raw, "snapshot")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise SnapshotError(
            f"Snapshot {source} has an unknown format version {version!r}",
            detail="This kbctl reads snapshot format versions 1 (full) and 2 (delta).",
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
