"""Persistence of the OpenAI side in the emulator's state folder, with the same mechanism as the
ElevenLabs workspace (its `Store`, in the subfolder `openai/`: an atomically replaced snapshot,
a journal of one line per changing request, content-addressed blobs for large Files), and the
record <-> JSON codecs.

Owns loading, flushing and snapshotting. Must not decide what changed (operations mark records
dirty) nor take a lock of its own (the world calls it under its lock).
"""

from __future__ import annotations

import base64

from kbctl.emulator.openai.records import (
    Attachment,
    Batch,
    Chunking,
    Json,
    StoredFile,
    VectorStore,
)
from kbctl.emulator.openai.state import KINDS, OpenAIState
from kbctl.emulator.workspace.codec import INLINE_LIMIT
from kbctl.emulator.workspace.persistence import Store

SUBFOLDER = "openai"


def _file_to_json(f: StoredFile, store: Store | None) -> Json:
    content: Json
    if len(f.data) > INLINE_LIMIT and store is not None:
        content = {"blob": store.write_blob(f.data)}
    else:
        try:
            content = {"text": f.data.decode("utf-8")}
        except UnicodeDecodeError:
            content = {"b64": base64.b64encode(f.data).decode("ascii")}
    return {
        **content,
        "id": f.id,
        "seq": f.seq,
        "filename": f.filename,
        "purpose": f.purpose,
        "created_at": f.created_at,
        "expires_at": f.expires_at,
    }


def _file_from_json(rec: Json, store: Store) -> StoredFile:
    if isinstance(rec.get("text"), str):
        data = str(rec["text"]).encode()
    elif isinstance(rec.get("b64"), str):
        data = base64.b64decode(str(rec["b64"]))
    else:
        data = store.read_blob(str(rec["blob"]))
    expires = rec.get("expires_at")
    return StoredFile(
        id=str(rec["id"]),
        seq=int(str(rec["seq"])),
        filename=str(rec["filename"]),
        purpose=str(rec["purpose"]),
        created_at=int(str(rec["created_at"])),
        expires_at=int(str(expires)) if expires is not None else None,
        data=data,
    )


def _store_to_json(vs: VectorStore) -> Json:
    return {
        "id": vs.id,
        "seq": vs.seq,
        "name": vs.name,
        "created_at": vs.created_at,
        "last_active_at": vs.last_active_at,
        "metadata": vs.metadata,
        "expires_after_days": vs.expires_after_days,
    }


def _store_from_json(rec: Json) -> VectorStore:
    meta = rec.get("metadata")
    days = rec.get("expires_after_days")
    return VectorStore(
        id=str(rec["id"]),
        seq=int(str(rec["seq"])),
        name=str(rec["name"]),
        created_at=int(str(rec["created_at"])),
        last_active_at=int(str(rec["last_active_at"])),
        metadata={str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else None,
        expires_after_days=int(str(days)) if days is not None else None,
    )


def _attachment_to_json(att: Attachment) -> Json:
    return {
        "store_id": att.store_id,
        "file_id": att.file_id,
        "seq": att.seq,
        "created_at": att.created_at,
        "requested_at": att.requested_at,
        "attributes": att.attributes,
        "chunking": [att.chunking.max_tokens, att.chunking.overlap_tokens],
        "outcome": att.outcome,
        "error": list(att.error) if att.error is not None else None,
        "usage_bytes": att.usage_bytes,
        "cancelled": att.cancelled,
    }


def _attachment_from_json(rec: Json) -> Attachment:
    sizes = rec["chunking"]
    assert isinstance(sizes, list) and len(sizes) == 2
    error = rec.get("error")
    attrs = rec.get("attributes")
    return Attachment(
        store_id=str(rec["store_id"]),
        file_id=str(rec["file_id"]),
        seq=int(str(rec["seq"])),
        created_at=int(str(rec["created_at"])),
        requested_at=float(str(rec["requested_at"])),
        attributes=dict(attrs) if isinstance(attrs, dict) else None,
        chunking=Chunking(int(sizes[0]), int(sizes[1])),
        outcome=str(rec["outcome"]),
        error=(str(error[0]), str(error[1])) if isinstance(error, list) else None,
        usage_bytes=int(str(rec["usage_bytes"])),
        cancelled=bool(rec.get("cancelled")),
    )


def _batch_to_json(b: Batch) -> Json:
    return {
        "id": b.id,
        "store_id": b.store_id,
        "seq": b.seq,
        "created_at": b.created_at,
        "file_ids": list(b.file_ids),
        "cancelled": b.cancelled,
    }


def _batch_from_json(rec: Json) -> Batch:
    ids = rec["file_ids"]
    assert isinstance(ids, list)
    return Batch(
        id=str(rec["id"]),
        store_id=str(rec["store_id"]),
        seq=int(str(rec["seq"])),
        created_at=int(str(rec["created_at"])),
        file_ids=[str(i) for i in ids],
        cancelled=bool(rec.get("cancelled")),
    )


class Persistence(OpenAIState):
    """Loading and saving for `OpenAIWorld` (a mixin over the state)."""

    _store_io: Store | None = None
    _appended = False  # this world wrote to its store (so close() compacts)

    def attach_store(self, store: Store) -> None:
        """Load what `store` holds and save every later change there."""
        with self._lock:
            for entry in store.load():
                self._apply(entry, store)
            self._store_io = store
            for pending in self._dirty.values():
                pending.clear()
            if store.journal_entries >= 200:
                self._snapshot()

    def _apply(self, entry: Json, store: Store) -> None:
        meta = entry.get("meta")
        if isinstance(meta, dict):
            self._serial = max(self._serial, int(meta.get("serial", 0)))
            self._seq = max(self._seq, int(meta.get("seq", 0)))
        for kind in KINDS:
            records = entry.get(kind) or {}
            assert isinstance(records, dict)
            for key, rec in records.items():
                self._load_record(kind, str(key), rec, store)

    def _load_record(self, kind: str, key: str, rec: object, store: Store) -> None:
        if kind == "files":
            self._files.pop(key, None)
            if isinstance(rec, dict):
                self._files[key] = _file_from_json(rec, store)
        elif kind == "stores":
            self._stores.pop(key, None)
            if isinstance(rec, dict):
                self._stores[key] = _store_from_json(rec)
                self._attached.setdefault(key, {})
            else:
                self._attached.pop(key, None)
        elif kind == "attachments":
            store_id, _, file_id = key.partition("/")
            self._attached.get(store_id, {}).pop(file_id, None)
            if isinstance(rec, dict):
                self._attached.setdefault(store_id, {})[file_id] = _attachment_from_json(rec)
        else:
            self._batches.pop(key, None)
            if isinstance(rec, dict):
                self._batches[key] = _batch_from_json(rec)

    def _record(self, kind: str, key: str) -> Json | None:
        if kind == "files":
            f = self._files.get(key)
            return _file_to_json(f, self._store_io) if f is not None else None
        if kind == "stores":
            vs = self._stores.get(key)
            return _store_to_json(vs) if vs is not None else None
        if kind == "attachments":
            store_id, _, file_id = key.partition("/")
            att = self._attached.get(store_id, {}).get(file_id)
            return _attachment_to_json(att) if att is not None else None
        b = self._batches.get(key)
        return _batch_to_json(b) if b is not None else None

    def _meta(self) -> Json:
        return {"serial": self._serial, "seq": self._seq}

    def flush(self) -> None:
        """Save what changed since the last flush (no-op without a store or changes)."""
        with self._lock:
            if not any(self._dirty.values()):
                return
            if self._store_io is None:
                for pending in self._dirty.values():
                    pending.clear()
                return
            entry: Json = {"meta": self._meta()}
            for kind, keys in self._dirty.items():
                entry[kind] = {key: self._record(kind, key) for key in sorted(keys)}
                keys.clear()
            self._store_io.append(entry)
            self._appended = True
            if self._store_io.needs_compaction:
                self._snapshot()

    def _snapshot(self) -> None:
        store = self._store_io
        assert store is not None
        files = {k: _file_to_json(f, store) for k, f in self._files.items()}
        state: Json = {
            "meta": self._meta(),
            "files": files,
            "stores": {k: _store_to_json(vs) for k, vs in self._stores.items()},
            "attachments": {
                att.key: _attachment_to_json(att)
                for attached in self._attached.values()
                for att in attached.values()
            },
            "batches": {k: _batch_to_json(b) for k, b in self._batches.items()},
        }
        live = {str(rec["blob"]) for rec in files.values() if "blob" in rec}
        store.write_snapshot(state, live)

    def close(self) -> None:
        """Flush and fold the journal into a fresh snapshot (clean shutdown), unless this world
        wrote nothing: another world of this process may hold the same folder (two
        `emulator://` URLs with different settings), and a snapshot of what this one loaded
        would undo that one's changes."""
        with self._lock:
            self.flush()
            if self._store_io is not None and self._appended:
                self._snapshot()
