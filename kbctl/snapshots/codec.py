"""The snapshot file format, both ways: a `Snapshot` to canonical JSON, and back, strictly.

Reading checks every field's type and names the one that is wrong (a corrupt snapshot is refused,
never half-read); writing is deterministic, so a record's id is stable. No I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import fields, replace
from typing import Any

from kbctl.checks.report import ChecksReport, read_report, report_to_dict
from kbctl.chunking import Chunking, ChunkingStrategy, Metadata
from kbctl.errors import SnapshotError
from kbctl.jsonread import JsonObj, JsonReader
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


def snapshot_id(snapshot: Snapshot, texts: TextMemo | None = None) -> str:
    """The id a snapshot gets: 8 hex of the sha256 of its content (id left out) and time.
    `texts` remembers entries' JSON across calls (a run writes the same entries often)."""
    data = to_dict(replace(snapshot, knowledge_base=None))
    data["id"] = ""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    kb = snapshot.knowledge_base
    kb_text = "null" if kb is None else entries_text(kb, texts)
    return hashlib.sha256(f"{text}|{kb_text}|{snapshot.created_at}".encode()).hexdigest()[:8]


#: Entries' compact JSON, by entry: kept by whoever writes many records (a store, for a run).
TextMemo = dict[SnapshotEntry, str]


def entries_text(entries: Iterable[SnapshotEntry], texts: TextMemo | None = None) -> str:
    """A knowledge base's compact canonical JSON (`json.dumps` of its entries as a list, keys
    sorted); `texts` remembers each entry's part."""
    memo: TextMemo = {} if texts is None else texts
    parts: list[str] = []
    for entry in entries:
        part = memo.get(entry)
        if part is None:
            part = memo[entry] = json.dumps(
                _entry_dict(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
        parts.append(part)
    return "[" + ",".join(parts) + "]"


# --------------------------------------------------------------------------------------------
# Parsing (strict)


def record_reader(source: str) -> JsonReader:
    """The strict reader of snapshot `source`: a bad field is a corrupt snapshot."""

    def fail(problem: str) -> SnapshotError:
        return SnapshotError(
            f"Snapshot {source} is corrupt",
            detail=problem,
            hint="Restore the file from git (snapshots are committed), or pick another snapshot "
            "with `kbctl snapshots list`.",
        )

    return JsonReader(fail)


def _rag_from(data: JsonObj) -> RagSettings:
    return RagSettings(
        enabled=data.opt_flag("enabled"),
        embedding_model=data.opt_text("embedding_model"),
        max_vector_distance=data.opt_number("max_vector_distance"),
        max_documents_length=data.opt_integer("max_documents_length"),
        max_retrieved_rag_chunks_count=data.opt_integer("max_retrieved_rag_chunks_count"),
        num_candidates=data.opt_integer("num_candidates"),
    )


def entry_from(data: JsonObj) -> SnapshotEntry:
    """One knowledge-base entry of a record, read where it stands in the file."""
    content_hash, blob = data.opt_text("content_hash"), data.opt_text("blob")
    for name, digest in (("content_hash", content_hash), ("blob", blob)):
        if digest is not None and not _is_sha256(digest):
            raise data.reader.fail(f"{data.at(name)}: expected 64 lowercase hex digits")
    metadata, chunking = data.opt_obj("metadata"), data.opt_obj("chunking")
    return SnapshotEntry(
        id=data.text("id"),
        name=data.text("name"),
        doc_type=data.enum("type", DocType),
        usage_mode=data.enum("usage_mode", UsageMode),
        key=data.opt_text("key"),
        content_hash=content_hash,
        managed=data.flag("managed"),
        blob=blob,
        url=data.opt_text("url"),
        filename=data.opt_text("filename"),
        size_bytes=data.opt_integer("size_bytes"),
        metadata=() if metadata is None else _metadata_from(metadata),
        chunking=None if chunking is None else _chunking_from(chunking),
    )


def _metadata_from(data: JsonObj) -> Metadata:
    def value(raw: object, path: str) -> str | int | float | bool:
        found = data.reader.scalar_at(raw, path)
        if found is None:
            raise data.reader.expected(path, "a string, number or boolean", raw)
        return found

    return tuple(sorted(data.values(value).items()))


def _chunking_from(data: JsonObj) -> Chunking:
    strategy = data.enum("strategy", ChunkingStrategy)
    if strategy is ChunkingStrategy.AUTO:
        return Chunking()
    size = data.integer("max_chunk_size_tokens")
    return Chunking(strategy, size, data.integer("chunk_overlap_tokens"))


def entry_to_json(entry: SnapshotEntry) -> dict[str, object]:
    """One entry as the record writes it (the snapshot index keeps entries in this form)."""
    return _entry_dict(entry)


def entry_from_json(value: object, source: str) -> SnapshotEntry:
    """An entry written by `entry_to_json`, checked as strictly as in a record.

    Raises:
        SnapshotError: a field is missing or malformed.
    """
    return entry_from(record_reader(source).root(value, "entry"))


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _is_sha256(value: str) -> bool:
    return _SHA256.fullmatch(value) is not None


def loads(text: str, source: str) -> Snapshot:
    """Parse a snapshot file's text; `source` names it in errors.

    Raises:
        SnapshotError: bad JSON, a wrong shape, or an unknown format version.
    """
    return snapshot_from_json(record_json(text, source), source)


def record_json(text: str | bytes, source: str) -> Any:  # as json.loads gives it
    """A record file's text parsed as JSON; what is not JSON (or not UTF-8) is a SnapshotError
    naming `source`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise record_reader(source).fail(f"not valid JSON: {err.msg} (line {err.lineno})") from None
    except UnicodeDecodeError as err:
        raise record_reader(source).fail(f"not UTF-8: {err}") from None


def snapshot_from_json(raw: object, source: str) -> Snapshot:
    """A full record's parsed JSON as a `Snapshot`; `source` names it in errors.

    Raises:
        SnapshotError: a wrong shape, or an unknown format version.
    """
    reader = record_reader(source)
    data = reader.root(raw, "snapshot")
    version = data.value("format_version")
    if version != FORMAT_VERSION:
        raise SnapshotError(
            f"Snapshot {source} has an unknown format version {version!r}",
            detail="This kbctl reads snapshot format versions 1 (full), 2 (delta) and 3 (chunked).",
            hint="Use the kbctl version that wrote it, or pick another snapshot.",
        )
    agent = data.obj("agent")
    done = data.obj_or_empty("done")
    summary = data.opt_obj("plan_summary")
    checks: dict[str, ChecksReport] = {}
    stages = data.opt_obj("checks")  # absent: no checks ran
    if stages is not None:
        for stage in stages.raw:
            if stage not in CHECK_STAGES:
                raise reader.fail(f"{stages.at(stage)}: unknown stage")
            checks[stage] = read_report(stages.obj(stage))
    knowledge_base: tuple[SnapshotEntry, ...] | None = None
    if data.value("knowledge_base") is not None:  # null: a checkpoint before the agent was read
        knowledge_base = tuple(entry_from(entry) for entry in data.objs("knowledge_base"))
    return Snapshot(
        id=data.text("id"),
        environment=data.text("environment"),
        project=data.text("project"),
        manifest=data.text("manifest"),
        kind=data.enum("kind", SnapshotKind),
        created_at=data.text("created_at"),
        apply_id=data.text("apply_id"),
        seq=data.integer("seq"),
        git_commit=data.opt_text("git_commit"),
        operation=data.text("operation"),
        rollback_of=data.opt_text("rollback_of"),
        agent=SnapshotAgent(
            id=agent.text("id"),
            version_id=agent.opt_text("version_id"),
            branch_id=agent.opt_text("branch_id"),
        ),
        rag=_rag_from(data.obj("rag")),
        knowledge_base=knowledge_base,
        outcome=data.text("outcome"),
        done=Done(
            created=done.opt_texts("created"),
            deleted=done.opt_texts("deleted"),
            kept=done.opt_texts("kept"),
            reused=done.opt_texts("reused"),
            agent_updated=done.opt_flag("agent_updated") is True,
        ),
        plan_summary={} if summary is None else summary.values(reader.int_at),
        notes=data.opt_texts("notes"),
        checks=checks,
    )
