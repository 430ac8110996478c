"""Persistence of an emulator workspace in a folder, fast with thousands of documents.

Layout of the folder:
- `state.json`   a complete snapshot, always replaced atomically (temp file + `os.replace`);
- `journal.jsonl` one line per committed request: the records it changed (upserts, `null` =
  deleted), appended after the snapshot; folded into a new snapshot every `compact_every`
  lines, on clean shutdown, and when a large journal is loaded. A torn last line (a crash while
  appending, before the request was answered) is ignored;
- `blobs/xx/<sha256>` contents over 64 KiB, content-addressed, each written once atomically;
  smaller contents live inline in the records (one append per write, no file per document).

Owns files and the record <-> JSON codecs. Must not decide what changed (the world does) nor hold
a lock of its own: the world calls it under its lock.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from kbctl.emulator.records import Agent, AgentVersion, Document, Json, RagIndex
from kbctl.errors import UsageError

FORMAT = "kbctl-emulator-state"
FORMAT_VERSION = 1
STATE_FILE = "state.json"
JOURNAL_FILE = "journal.jsonl"
BLOB_DIR = "blobs"
KINDS = ("documents", "indexes", "agents", "versions")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half.
    `durable` also fsyncs (worth it for the snapshot, too slow for every blob)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------------------------
# codecs


def _int(rec: Json, key: str) -> int:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} is not a number: {value!r}")
    return int(value)


def _float(rec: Json, key: str) -> float:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} is not a number: {value!r}")
    return float(value)


def meta_int(rec: Json, key: str) -> int:
    """An integer counter of the `meta` record (0 when absent)."""
    return _int(rec, key) if key in rec else 0


def _opt_str(rec: Json, key: str) -> str | None:
    value = rec.get(key)
    return value if isinstance(value, str) else None


def blob_id(data: bytes) -> str:
    """Content address of a blob."""
    return hashlib.sha256(data).hexdigest()


#: Contents up to this size are stored inline in the records; larger ones as blob files.
INLINE_LIMIT = 64 * 1024


def doc_to_json(doc: Document) -> Json:
    """A document record: metadata plus its content (inline `text`/`b64`, or a `blob` address
    whose file the caller must write)."""
    content: Json
    if len(doc.data) > INLINE_LIMIT:
        content = {"blob": blob_id(doc.data)}
    else:
        try:
            content = {"text": doc.data.decode("utf-8")}
        except UnicodeDecodeError:
            content = {"b64": base64.b64encode(doc.data).decode("ascii")}
    return {
        **content,
        "id": doc.id,
        "seq": doc.seq,
        "type": doc.doc_type,
        "name": doc.name,
        "created_at": doc.created_at,
        "updated_at": doc.updated_at,
        "parent_id": doc.parent_id,
        "url": doc.url,
        "filename": doc.filename,
        "auto_sync": [doc.enable_auto_sync, doc.auto_remove, doc.minimum_frequency_days],
    }


def doc_content(rec: Json, read_blob: Callable[[str], bytes]) -> bytes:
    """The content bytes of a document record."""
    if isinstance(rec.get("text"), str):
        return str(rec["text"]).encode()
    if isinstance(rec.get("b64"), str):
        return base64.b64decode(str(rec["b64"]))
    if isinstance(rec.get("blob"), str):
        return read_blob(str(rec["blob"]))
    return b""


def doc_from_json(rec: Json, data: bytes) -> Document:
    """The inverse of `doc_to_json`, given the content (see `doc_content`)."""
    sync = rec.get("auto_sync") or [False, False, None]
    assert isinstance(sync, list)
    doc = Document(
        id=str(rec["id"]),
        seq=_int(rec, "seq"),
        doc_type=str(rec["type"]),
        name=str(rec["name"]),
        created_at=_int(rec, "created_at"),
        updated_at=_int(rec, "updated_at"),
        parent_id=_opt_str(rec, "parent_id"),
        url=_opt_str(rec, "url"),
        filename=_opt_str(rec, "filename"),
        enable_auto_sync=bool(sync[0]),
        auto_remove=bool(sync[1]),
        minimum_frequency_days=sync[2] if isinstance(sync[2], int) else None,
    )
    doc.set_data(data)
    return doc


def index_to_json(ix: RagIndex) -> Json:
    """A RAG index attempt."""
    return {
        "id": ix.id,
        "document_id": ix.document_id,
        "model": ix.model,
        "requested_at": ix.requested_at,
        "outcome": ix.outcome,
        "size_bytes": ix.size_bytes,
    }


def index_from_json(rec: Json) -> RagIndex:
    """The inverse of `index_to_json`."""
    return RagIndex(
        id=str(rec["id"]),
        document_id=str(rec["document_id"]),
        model=str(rec["model"]),
        requested_at=_float(rec, "requested_at"),
        outcome=str(rec["outcome"]),
        size_bytes=_int(rec, "size_bytes"),
    )


def agent_to_json(agent: Agent) -> Json:
    """An agent (its versions are separate records)."""
    return {
        "agent_id": agent.agent_id,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
        "main_branch_id": agent.main_branch_id,
        "version_ids": list(agent.version_ids),
    }


def agent_from_json(rec: Json) -> Agent:
    """The inverse of `agent_to_json`."""
    versions = rec["version_ids"]
    assert isinstance(versions, list)
    return Agent(
        agent_id=str(rec["agent_id"]),
        created_at=_int(rec, "created_at"),
        updated_at=_int(rec, "updated_at"),
        main_branch_id=str(rec["main_branch_id"]),
        version_ids=[str(v) for v in versions],
    )


def version_to_json(v: AgentVersion) -> Json:
    """An agent version (immutable)."""
    return {
        "id": v.id,
        "agent_id": v.agent_id,
        "branch_id": v.branch_id,
        "seq_no": v.seq_no,
        "committed_at": v.committed_at,
        "description": v.description,
        "name": v.name,
        "tags": list(v.tags),
        "conversation_config": v.conversation_config,
        "platform_settings": v.platform_settings,
        "workflow": v.workflow,
        "parent_id": v.parent_id,
    }


def version_from_json(rec: Json) -> AgentVersion:
    """The inverse of `version_to_json`."""
    cc, ps, wf, tags = (
        rec.get(k) for k in ("conversation_config", "platform_settings", "workflow", "tags")
    )
    assert isinstance(cc, dict) and isinstance(ps, dict) and isinstance(tags, list)
    return AgentVersion(
        id=str(rec["id"]),
        agent_id=str(rec["agent_id"]),
        branch_id=str(rec["branch_id"]),
        seq_no=_int(rec, "seq_no"),
        committed_at=_int(rec, "committed_at"),
        description=str(rec["description"]),
        name=str(rec["name"]),
        tags=[str(t) for t in tags],
        conversation_config=cc,
        platform_settings=ps,
        workflow=wf if isinstance(wf, dict) else None,
        parent_id=_opt_str(rec, "parent_id"),
    )


# --------------------------------------------------------------------------------------------
# files


class Store:
    """Snapshot + journal + blobs under `root` (see the module docstring)."""

    def __init__(self, root: Path, compact_every: int = 1000) -> None:
        self.root = root
        self.compact_every = compact_every
        self.seq = 0
        self.journal_entries = 0

    @property
    def state_path(self) -> Path:
        """The snapshot file."""
        return self.root / STATE_FILE

    @property
    def journal_path(self) -> Path:
        """The journal file."""
        return self.root / JOURNAL_FILE

    def _blob_path(self, sha: str) -> Path:
        return self.root / BLOB_DIR / sha[:2] / sha

    def _corrupt(self, what: str, why: object) -> UsageError:
        return UsageError(
            f"The emulator state in {self.root} is corrupt ({what})",
            detail=str(why),
            hint="Delete the folder to start from an empty workspace.",
        )

    def load(self) -> list[Json]:
        """The snapshot (if any) followed by the newer journal entries; creates the folder."""
        self.root.mkdir(parents=True, exist_ok=True)
        entries: list[Json] = []
        snapshot_seq = 0
        if self.state_path.exists():
            try:
                state = json.loads(self.state_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise self._corrupt(STATE_FILE, exc) from exc
            if not isinstance(state, dict) or state.get("format") != FORMAT:
                raise self._corrupt(STATE_FILE, "not a kbctl emulator state file")
            if state.get("version") != FORMAT_VERSION:
                raise self._corrupt(STATE_FILE, f"unsupported version {state.get('version')!r}")
            snapshot_seq = int(state.get("seq", 0))
            entries.append(state)
        self.seq = snapshot_seq
        self.journal_entries = 0
        if self.journal_path.exists():
            lines = self.journal_path.read_bytes().split(b"\n")
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    if not isinstance(entry, dict):
                        raise ValueError("not an object")
                except ValueError as exc:
                    if all(not rest.strip() for rest in lines[number:]):
                        break  # a torn last line: that request was never answered
                    raise self._corrupt(f"{JOURNAL_FILE} line {number}", exc) from exc
                seq = int(entry.get("seq", 0))
                if seq > snapshot_seq:
                    entries.append(entry)
                    self.seq = max(self.seq, seq)
                    self.journal_entries += 1
        return entries

    def read_blob(self, sha: str) -> bytes:
        """The bytes stored under `sha`."""
        try:
            return self._blob_path(sha).read_bytes()
        except OSError as exc:
            raise self._corrupt(f"blob {sha}", exc) from exc

    def write_blob(self, data: bytes) -> str:
        """Store `data` (once) and return its address."""
        sha = blob_id(data)
        path = self._blob_path(sha)
        if not path.exists():
            atomic_write(path, data, durable=False)
        return sha

    def append(self, entry: Json) -> None:
        """Append one change entry to the journal (a single write of one line)."""
        self.seq += 1
        entry["seq"] = self.seq
        line = (_dumps(entry) + "\n").encode()
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        self.journal_entries += 1

    @property
    def needs_compaction(self) -> bool:
        """The journal is long enough to fold into a snapshot."""
        return self.journal_entries >= self.compact_every

    def write_snapshot(self, state: Json, live_blobs: set[str]) -> None:
        """Replace the snapshot with `state`, empty the journal, drop unreferenced blobs."""
        state = {"format": FORMAT, "version": FORMAT_VERSION, **state, "seq": self.seq}
        atomic_write(self.state_path, _dumps(state).encode())
        atomic_write(self.journal_path, b"")
        self.journal_entries = 0
        blob_root = self.root / BLOB_DIR
        if blob_root.is_dir():
            for path in blob_root.glob("*/*"):
                if path.name not in live_blobs and not path.name.startswith("."):
                    with contextlib.suppress(OSError):
                        path.unlink()
