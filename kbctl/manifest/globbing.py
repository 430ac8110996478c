"""Glob expansion that stays inside the repository.

Owns the walk behind `glob:` and `exclude:`: the semantics of Python's `glob.glob(...,
recursive=True)` (`*`, `?`, `[...]` within one path component, `**` as a whole component for
any number of directories, hidden names matched only by a pattern component that starts with
`.` or names them literally), but the walk never descends into a directory that resolves
outside the repository (a symlink to `/` or `/proc`) nor into one of its own ancestors (a
symlink loop), and never lists more levels than the pattern can match. Files it lists are not
opened here; `containment` checks each one before it is read.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from kbctl.manifest.containment import is_inside

_MAGIC = frozenset("*?[")


def has_magic(part: str) -> bool:
    """True when a path component holds a wildcard."""
    return any(ch in _MAGIC for ch in part)


def split_pattern(pattern: str) -> tuple[list[str], list[str]]:
    """(fixed leading components, the rest starting at the first wildcard)."""
    parts = [p for p in pattern.replace("\\", "/").split("/") if p not in ("", ".")]
    for index, part in enumerate(parts):
        if has_magic(part):
            return parts[:index], parts[index:]
    return parts, []


def contained_glob(
    pattern: str, base_dir: Path, root: Path, *, files_only: bool = True
) -> tuple[list[str], list[str]]:
    """Paths matching `pattern` (relative to `base_dir`, posix, unnormalised), sorted, and the
    directories the walk refused to enter because they resolve outside `root`.

    Args:
        pattern: a relative glob; its fixed part must already be known to be inside `root`.
        base_dir: the directory the pattern is relative to.
        root: the repository: the walk never enters a directory resolving outside it.
        files_only: leave directories out of the result.
    """
    fixed, rest = split_pattern(pattern)
    start = os.path.join(base_dir, *fixed)
    if not rest:  # no wildcard: the path itself, if it exists
        if not fixed or not os.path.lexists(start):
            return [], []
        return ([] if files_only and os.path.isdir(start) else ["/".join(fixed)]), []
    out: list[str] = []
    escapes: list[str] = []
    real_start = os.path.realpath(start)
    for rel, is_dir in _walk(start, (), rest, frozenset({real_start}), root, escapes):
        if not (files_only and is_dir):
            out.append("/".join((*fixed, *rel)))
    return sorted(out), sorted("/".join((*fixed, e)) for e in escapes)


def _walk(
    folder: str,
    rel: tuple[str, ...],
    rest: Sequence[str],
    ancestors: frozenset[str],
    root: Path,
    escapes: list[str],
) -> Iterator[tuple[tuple[str, ...], bool]]:
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = (*rel, entry.name)
        states, any_kind, dir_only = _match(rest, path)
        if not states:
            continue
        try:
            is_dir = entry.is_dir()  # follows symlinks; does not open the target
        except OSError:
            is_dir = False
        if any_kind or (dir_only and is_dir):
            yield path, is_dir
        if not is_dir or not any(i < len(rest) for i in states):
            continue
        real = os.path.realpath(entry.path)
        if not is_inside(real, root):
            escapes.append("/".join(path))  # a way out of the repository: never listed
            continue
        if real in ancestors:
            continue  # a symlink loop: its files are found on the way that does not loop
        yield from _walk(entry.path, path, rest, ancestors | {real}, root, escapes)


def _match(rest: Sequence[str], path: Sequence[str]) -> tuple[set[int], bool, bool]:
    """Walk `path` through the pattern `rest`.

    Returns the pattern positions reachable once every component is consumed (empty: nothing
    below `path` can match), whether `path` itself matches whatever it is, and whether it
    matches only if it is a directory (a component before trailing `**`s matches directories
    only, as in Python's glob).
    """
    states = _closure(rest, {0})
    any_kind = dir_only = False
    for position, part in enumerate(path):
        last = position == len(path) - 1
        hidden = part.startswith(".")
        following: set[int] = set()
        for index in states:
            if index == len(rest):
                continue
            component = rest[index]
            if component == "**":
                if hidden:
                    continue
                following.add(index)
                if last and all(c == "**" for c in rest[index:]):
                    any_kind = True
            elif (
                (part == component)
                if not has_magic(component)
                else (
                    fnmatch.fnmatchcase(part, component)
                    and (not hidden or component.startswith("."))
                )
            ):
                following.add(index + 1)
                if last and index + 1 == len(rest):
                    any_kind = True
                elif last and all(c == "**" for c in rest[index + 1 :]):
                    dir_only = True
        states = _closure(rest, following)
        if not states:
            break
    return states, any_kind, dir_only


def _closure(rest: Sequence[str], states: set[int]) -> set[int]:
    """`states` plus the positions after any `**` that matches no directory at all."""
    out = set(states)
    pending = list(states)
    while pending:
        index = pending.pop()
        if index < len(rest) and rest[index] == "**" and index + 1 not in out:
            out.add(index + 1)
            pending.append(index + 1)
    return out
