"""Content-addressed blobs (`blobs/<sha256>.gz`) and the atomic file writes snapshots rely on.

A blob is named by the sha256 of its uncompressed bytes, written once (gzip, deterministic
bytes) and verified on every read; a blob file already there is trusted by writers (one
listing of the folder), since every reader verifies it. Blobs are written in parallel
(`put_many`, or `stage` as documents are uploaded, in the background): each file is fsynced,
and the folder once, by `flush`, before any durable record that names them is written. Owns
the blob files; must not know what a snapshot is.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import threading
import zlib
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from kbctl.errors import SnapshotError

#: Blob writes (and verifications of blobs already there) in flight at once.
BLOB_WORKERS = 4


def atomic_write(path: Path, data: bytes, *, durable: bool = True, sync_dir: bool = True) -> None:
    """Write `data` to `path` so that a crash leaves the old file or the new one, never a mix.

    The rename alone survives a killed process; `durable` also fsyncs the file (and, with
    `sync_dir`, the folder) so the write survives a power loss (skipped for in-progress
    checkpoints and caches, rewritten often, where the fsyncs would cost more than they save).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    if durable and sync_dir:
        fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make renames in `folder` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of `data` (the name of its blob)."""
    return hashlib.sha256(data).hexdigest()


class Blobs:
    """The blob folder: parallel writes, one folder fsync per flush, verified reads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._good: set[str] = set()  # written by this store, or present when it started
        self._listed: set[str] | None = None
        self._digests: dict[bytes, str] = {}
        self._pending: dict[str, Future[str]] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._unsynced = False  # files renamed into the folder since its last fsync

    def path(self, digest: str) -> Path:
        """Where the blob `digest` lives."""
        return self.folder / f"{digest}.gz"

    def exists(self, digest: str) -> bool:
        """True when the blob file exists (not verified)."""
        return digest in self._good or self.path(digest).is_file()

    def _on_disk(self) -> set[str]:
        """The digests of the blob files present when first asked (one folder listing)."""
        if self._listed is None:
            found: set[str] = set()
            try:
                with os.scandir(self.folder) as listing:
                    for item in listing:
                        if item.name.endswith(".gz") and not item.name.startswith("."):
                            found.add(item.name[:-3])
            except (FileNotFoundError, NotADirectoryError):
                pass
            self._listed = found
        return self._listed

    def digest(self, data: bytes) -> str:
        """sha256 of `data`, computed once per content (snapshots ask for the same often)."""
        found = self._digests.get(data)
        if found is None:
            found = self._digests[data] = sha256_hex(data)
        return found

    def put(self, data: bytes) -> str:
        """Store `data` once (waiting for it if staged); returns its sha256. A blob file that
        exists is trusted (blobs are written once, atomically, and every reader verifies
        them: `show` and `rollback` refuse a damaged one)."""
        digest = self.digest(data)
        if digest in self._good or digest in self._on_disk():
            self._good.add(digest)
            return digest
        with self._lock:
            pending = self._pending.pop(digest, None)
        if pending is not None:
            return pending.result()
        return self._store(digest, data)

    def put_many(self, contents: Iterable[bytes]) -> list[str]:
        """Store every content, in parallel; returns their sha256s in order."""
        datas = list(contents)
        if len(datas) <= 1:
            return [self.put(d) for d in datas]
        for data in datas:
            self.stage(data)
        return [self.put(d) for d in datas]

    def stage(self, data: bytes) -> None:
        """Start storing `data` in the background (returns at once; `put` or `flush` waits)."""
        digest = self.digest(data)
        if digest in self._on_disk():
            self._good.add(digest)
        with self._lock:
            if digest in self._pending or digest in self._good:
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(BLOB_WORKERS, thread_name_prefix="kbctl-blob")
            self._pending[digest] = self._pool.submit(self._store, digest, data)

    def flush(self) -> None:
        """Wait for staged writes and make every blob written so far durable (one folder
        fsync). Raises the first write's error."""
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        for future in pending:
            future.result()
        with self._lock:
            pool, self._pool = self._pool, None
            unsynced, self._unsynced = self._unsynced, False
        if pool is not None:
            pool.shutdown(wait=True)
        if unsynced:
            fsync_dir(self.folder)

    def read(self, digest: str) -> bytes:
        """The bytes of blob `digest`, verified against its name.

        Raises:
            SnapshotError: the blob is missing, not gzip, or its content does not match its hash.
        """
        path = self.path(digest)
        try:
            packed = path.read_bytes()
        except FileNotFoundError:
            raise SnapshotError(
                f"Snapshot blob {digest[:12]} is missing",
                detail=f"Expected {path}.",
                hint="Blobs are committed with the snapshots: restore state-snapshots/blobs/ "
                "from git.",
            ) from None
        except OSError as err:
            raise SnapshotError(
                f"Snapshot blob {digest[:12]} cannot be read",
                detail=f"{path}: {err}",
                hint="Restore the file from git.",
            ) from None
        try:
            data = gzip.decompress(packed)
        except (OSError, EOFError, zlib.error) as err:
            raise SnapshotError(
                f"Snapshot blob {digest[:12]} is corrupt",
                detail=f"{path}: {err}",
                hint="Restore the file from git.",
            ) from None
        if sha256_hex(data) != digest:
            raise SnapshotError(
                f"Snapshot blob {digest[:12]} does not match its hash",
                detail=f"{path} holds content with sha256 {sha256_hex(data)[:12]}….",
                hint="The file was changed after it was written; restore it from git.",
            )
        return data

    def _store(self, digest: str, data: bytes) -> str:
        path = self.path(digest)
        if path.exists():
            try:
                self.read(digest)
                self._good.add(digest)
                return digest
            except SnapshotError:
                pass  # a damaged copy (written by another process since): write it again
        atomic_write(path, gzip.compress(data, compresslevel=9, mtime=0), sync_dir=False)
        with self._lock:
            self._unsynced = True
        self._good.add(digest)
        return digest
