"""The index of one environment's snapshot folder, so apply never parses the whole history.

`<env>/.index.json` (dot-prefixed: never listed as a snapshot) remembers, per snapshot file name
and size, the record's write sequence, and every re-creatable entry (by content hash) the
records hold. It is a cache of what the files say, never the truth: each use lists the folder's
names (no reads), parses only files it has not seen (a new record, or a folder from before the
index: migrated on first use), forgets files that are gone, and rewrites itself when it moved.
A missing, damaged or conflicted index is rebuilt from the files. File names carry the record's
id (a hash of its content, checked on read), so a known name and size is a known record.
Owns the index file; must not decide anything about snapshots (the store does).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kbctl.errors import SnapshotError
from kbctl.snapshots.codec import entry_from_json, entry_to_json
from kbctl.snapshots.record import Snapshot, SnapshotEntry

INDEX_FILE = ".index.json"
FORMAT = 1


@dataclass(slots=True)
class Catalog:
    """What the index knows: file name → (size, seq or None when unreadable), and contents."""

    files: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    contents: dict[str, SnapshotEntry] = field(default_factory=dict)

    @property
    def max_seq(self) -> int:
        """The greatest write sequence of a readable record (0 when none)."""
        return max((seq for _, seq in self.files.values() if seq is not None), default=0)


def synced(
    folder: Path, read: Callable[[Path], Snapshot], write: Callable[[Path, bytes], None]
) -> Catalog:
    """The catalog of `folder`, brought up to date with its files (only new ones are parsed);
    `read` parses a record, `write` stores the index file (atomically)."""
    path = folder / INDEX_FILE
    catalog = _load(path)
    present = _snapshot_files(folder)
    moved = False
    for name in [n for n in catalog.files if n not in present]:
        del catalog.files[name]
        moved = True
    for name, size in sorted(present.items()):
        known = catalog.files.get(name)
        if known is not None and known[0] == size:
            continue
        moved = True
        try:
            snapshot = read(folder / name)
        except SnapshotError:
            catalog.files[name] = (size, None)
            continue
        catalog.files[name] = (size, snapshot.seq)
        for entry in snapshot.managed_entries:
            if entry.recreatable and entry.content_hash is not None:
                catalog.contents.setdefault(entry.content_hash, entry)
    if moved and present:
        write(path, _dumps(catalog))
    return catalog


def _snapshot_files(folder: Path) -> dict[str, int]:
    """Snapshot file names and sizes (dot-prefixed temp files and the index left out)."""
    found: dict[str, int] = {}
    try:
        with os.scandir(folder) as listing:
            for item in listing:
                if item.name.endswith(".json") and not item.name.startswith("."):
                    try:
                        if item.is_file():
                            found[item.name] = item.stat().st_size
                    except OSError:
                        continue
    except FileNotFoundError:
        return {}
    return found


def _load(path: Path) -> Catalog:
    """The saved catalog; an empty one when the file is missing or not what this kbctl wrote."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return Catalog()
        files = {
            str(name): (int(size), None if seq is None else int(seq))
            for name, (size, seq) in data["files"].items()
        }
        contents = {
            str(digest): entry_from_json(value, str(path))
            for digest, value in data["contents"].items()
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError, SnapshotError):
        return Catalog()
    return Catalog(files, contents)


def _dumps(catalog: Catalog) -> bytes:
    data = {
        "format": FORMAT,
        "files": {name: [size, seq] for name, (size, seq) in sorted(catalog.files.items())},
        "contents": {d: entry_to_json(e) for d, e in sorted(catalog.contents.items())},
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")
