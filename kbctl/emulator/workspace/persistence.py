"""Persistence of an emulator workspace in a folder, fast with thousands of documents.

Layout of the folder:
- `state.json`   a complete snapshot, always replaced atomically (temp file + `os.replace`);
- `journal.jsonl` one line per committed request: the records it changed (upserts, `null` =
  deleted), appended after the snapshot; folded into a new snapshot every `compact_every`
  lines, on clean shutdown, and when a large journal is loaded. A torn last line (a crash while
  appending, before the request was answered) is ignored;
- `blobs/xx/<sha256>` contents over 64 KiB, content-addressed, each written once atomically;
  smaller contents live inline in the records (one append per write, no file per document).

Owns files (the record <-> JSON codecs are in `codec`). Must not decide what changed (the world
does) nor hold a lock of its own: the world calls it under its lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from kbctl.emulator.workspace.codec import blob_id
from kbctl.emulator.workspace.folder_lock import FolderLock
from kbctl.emulator.workspace.records import Json
from kbctl.errors import UsageError

FORMAT = "kbctl-emulator-state"
FORMAT_VERSION = 1
STATE_FILE = "state.json"
JOURNAL_FILE = "journal.jsonl"
BLOB_DIR = "blobs"


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
# files


class Store:
    """Snapshot + journal + blobs under `root` (see the module docstring)."""

    def __init__(self, root: Path, compact_every: int = 1000, *, locked: bool = True) -> None:
        """`locked=False` for a subfolder whose parent's `Store` already holds the lock."""
        self.root = root
        self.compact_every = compact_every
        self._lock = FolderLock(root) if locked else None
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
        """The snapshot (if any) followed by the newer journal entries; creates the folder and
        takes its writer's lock (`UsageError` when another process holds it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            return self._read()
        self._lock.acquire()
        try:
            return self._read()
        except BaseException:
            self._lock.release()
            raise

    def _read(self) -> list[Json]:
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

    def release(self) -> None:
        """Give up the folder (another process may open it from now on)."""
        if self._lock is not None:
            self._lock.release()
