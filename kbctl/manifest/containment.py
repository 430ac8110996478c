"""Where document files may come from: inside the repository, regular files, never `.git/`.

Owns the repository boundary (the git work tree holding the manifest, found by walking up for a
`.git` file or folder; the manifest's own directory when there is none) and the one safe way to
read a document file: resolve symlinks first, refuse anything outside the boundary, inside a
`.git` folder or not a regular file, and only then open it (without following a symlink that
appeared in between, and checking that the file opened is the file checked). Nothing outside the
boundary is ever opened, not even briefly: `/proc/self/environ` or `.git/config` behind a symlink
must not reach a knowledge base.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

GIT_DIR = ".git"
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the check must not block
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


class RefusedPath(Exception):
    """Internal: a document path kbctl will not read; the message says why (no key in it)."""


def repository_root(start: Path) -> Path:
    """The git work tree holding `start` (its nearest ancestor with `.git`), else `start`.

    Symlinks in `start` are resolved, so the boundary is a real directory.
    """
    real = Path(os.path.realpath(start))
    for candidate in (real, *real.parents):
        if os.path.lexists(candidate / GIT_DIR):
            return candidate
    return real


def is_inside(path: str, root: Path) -> bool:
    """True when the real path `path` is `root` or below it (both absolute and normalised, as
    `os.path.realpath` gives them: a string comparison on whole components is exact)."""
    root_text = os.fspath(root)
    if path == root_text:
        return True
    prefix = root_text if root_text.endswith(os.sep) else root_text + os.sep
    return path.startswith(prefix)


def check_contained(root: Path, candidate: str) -> str:
    """The real path of `candidate` once symlinks are resolved; raises RefusedPath when it is
    outside `root` or inside a `.git` folder. Nothing is opened.
    """
    real = os.path.realpath(candidate)
    if not is_inside(real, root):
        raise RefusedPath("resolves outside the repository (symlinks are followed)")
    if GIT_DIR in real[len(os.fspath(root)) :].split(os.sep):
        raise RefusedPath(f"is inside a {GIT_DIR} folder")
    return real


def read_contained(root: Path, candidate: str) -> bytes:
    """The bytes of `candidate`, a regular file inside `root`.

    Raises RefusedPath (outside, inside `.git`, not a regular file), or the OSError of the
    filesystem (FileNotFoundError, IsADirectoryError, PermissionError, ...).
    """
    real = check_contained(root, candidate)
    before = os.stat(real)
    if stat.S_ISDIR(before.st_mode):
        raise IsADirectoryError(real)
    if not stat.S_ISREG(before.st_mode):
        raise RefusedPath("is not a regular file (a FIFO, socket or device)")
    fd = os.open(real, _OPEN_FLAGS)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
            before.st_dev,
            before.st_ino,
        ):
            raise RefusedPath("changed while it was being read; try again")
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            return handle.read()
    finally:
        if fd >= 0:
            os.close(fd)
