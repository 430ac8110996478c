"""One writer per emulator folder: an exclusive `flock` on `<folder>/emulator.lock`, held from
opening the folder until the workspace is closed (or the process ends), so a second process
(another `kbctl` command on the same `emulator://PATH`, or `kbctl emulator serve --state PATH`)
is refused with a clear error instead of both writing and losing each other's changes.

Within one process the lock is shared: opening the same folder twice (a test reading what a
command wrote) counts users and releases on the last close.

Owns that lock. Must not read or write the workspace's files (see `persistence`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path

from kbctl.errors import UsageError

LOCK_FILE = "emulator.lock"

_held: dict[Path, tuple[int, int]] = {}  # folder -> (descriptor, users in this process)
_held_guard = threading.Lock()


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 64, 0).decode().strip()
        if text.isdigit():
            return f" (process {int(text)})"
    return ""


class FolderLock:
    """The writer's lock on one emulator folder (`acquire`, then `release` once)."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self._acquired = False

    def acquire(self) -> None:
        """Take the lock, or raise `UsageError` when another process holds it."""
        if self._acquired:
            return
        with _held_guard:
            known = _held.get(self.root)
            if known is not None:
                _held[self.root] = (known[0], known[1] + 1)
                self._acquired = True
                return
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _holder(fd)
                os.close(fd)
                raise UsageError(
                    f"The emulator folder {self.root} is in use by another process{holder}",
                    detail=(
                        "The embedded emulator has one writer at a time: a second process "
                        "writing the same folder would lose the first one's changes."
                    ),
                    hint=(
                        "Wait for the other kbctl command to finish, or serve the folder once "
                        "with `kbctl emulator serve --state PATH` and point every command at "
                        "its URL."
                    ),
                ) from exc
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _held[self.root] = (fd, 1)
            self._acquired = True

    def release(self) -> None:
        """Give the lock up (the last user in this process unlocks the file)."""
        if not self._acquired:
            return
        self._acquired = False
        with _held_guard:
            fd, users = _held[self.root]
            if users > 1:
                _held[self.root] = (fd, users - 1)
                return
            del _held[self.root]
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
