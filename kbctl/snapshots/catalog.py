"""The index of one environment's snapshot folder, so neither apply nor `snapshots list` parses
the whole history.

Two dot-prefixed files (never listed as snapshots), both caches of what the records say:

- `<env>/.index.json`: one small row per record file (name, size, id, time, kind, operation,
  project, agent, commit, document count, outcome, write sequence, delta base and depth, or why
  the file cannot be read). `kbctl snapshots list`, the write sequence and the choice of a delta
  base are served from it.
- `<env>/.contents.json`: every re-creatable entry (by content hash) the records hold, so a new
  snapshot reuses an earlier blob. Larger, so read only by apply and plan's content diffs.

Each use lists the folder's names and sizes (no reads), parses only the files it has not seen
(a new record, or a folder from before the index: migrated on first use), forgets files that
are gone, and rewrites the index when it moved. A missing, damaged, conflicted or older-format
index is rebuilt from the files. File names carry the record's id (a hash of its content,
checked on read), so a known name and size is a known record. Parsing a record here never
rebuilds a delta chain: a delta's own fields say everything a row needs.
Owns the index files; must not decide anything about snapshots (the store does).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from kbctl.errors import SnapshotError
from kbctl.snapshots.codec import entry_from_json, entry_to_json
from kbctl.snapshots.delta import Stored
from kbctl.snapshots.record import IN_PROGRESS, SnapshotEntry

INDEX_FILE = ".index.json"
CONTENTS_FILE = ".contents.json"
FORMAT = 2

Read = Callable[[Path], Stored]
Write = Callable[[Path, bytes], None]


@dataclass(frozen=True, slots=True)
class SnapshotSummary:
    """One record file as `kbctl snapshots list` shows it (`error` set: it cannot be read)."""

    file: str
    size: int
    id: str
    seq: int | None = None
    created_at: str | None = None
    kind: str | None = None
    operation: str | None = None
    project: str | None = None
    agent_id: str | None = None
    git_commit: str | None = None
    documents: int | None = None
    outcome: str | None = None
    apply_id: str | None = None
    base: str | None = None  # the record a delta record is stored against
    depth: int = 0  # records to read back to a full one
    error: str | None = None

    @property
    def sort_key(self) -> tuple[str, int, str]:
        """Oldest first: time, then the write sequence, then the file name."""
        if self.created_at is None or self.seq is None:
            return (self.file[:16], -1, self.file)
        return (self.created_at, self.seq, self.file)

    @property
    def can_be_base(self) -> bool:
        """A finished, readable record whose knowledge base is known (a checkpoint is
        rewritten without fsync and replaced when its run ends: never a base)."""
        return self.error is None and self.documents is not None and self.outcome != IN_PROGRESS


def summary_of(name: str, size: int, stored: Stored) -> SnapshotSummary:
    """The row of a record file."""
    snapshot = stored.snapshot
    return SnapshotSummary(
        file=name,
        size=size,
        id=snapshot.id,
        seq=snapshot.seq,
        created_at=snapshot.created_at,
        kind=snapshot.kind.value,
        operation=snapshot.operation,
        project=snapshot.project,
        agent_id=snapshot.agent.id,
        git_commit=snapshot.git_commit,
        documents=stored.documents,
        outcome=snapshot.outcome,
        apply_id=snapshot.apply_id,
        base=None if stored.delta is None else stored.delta.base,
        depth=stored.depth,
    )


def unreadable(name: str, size: int, error: str) -> SnapshotSummary:
    """The row of a file that cannot be read."""
    stem = name[:-5] if name.endswith(".json") else name
    return SnapshotSummary(file=name, size=size, id=stem.rsplit("-", 1)[-1], error=error)


@dataclass(slots=True)
class Catalog:
    """What the index knows: the rows by file name, and (when asked for) the contents."""

    rows: dict[str, SnapshotSummary]
    contents: dict[str, SnapshotEntry]

    @property
    def max_seq(self) -> int:
        """The greatest write sequence of a readable record (0 when none)."""
        return max((r.seq for r in self.rows.values() if r.seq is not None), default=0)

    def newest_first(self) -> list[SnapshotSummary]:
        """The rows, newest first."""
        return sorted(self.rows.values(), key=lambda r: r.sort_key, reverse=True)


def synced(folder: Path, read: Read, write: Write, *, contents: bool = False) -> Catalog:
    """The catalog of `folder`, brought up to date with its files (only new ones are parsed);
    `read` parses a record (without rebuilding a delta), `write` stores an index file
    atomically. `contents` also brings the content index up to date."""
    present = snapshot_files(folder)
    rows, rows_moved = _sync_rows(folder, present, read)
    found: dict[str, SnapshotEntry] = {}
    contents_moved = False
    if contents:
        found, contents_moved = _sync_contents(folder, present, read)
    if present and rows_moved:
        write(folder / INDEX_FILE, _dumps_rows(rows))
    if present and contents_moved:
        write(folder / CONTENTS_FILE, _dumps_contents(present, found))
    return Catalog(rows, found)


def _sync_rows(
    folder: Path, present: dict[str, int], read: Read
) -> tuple[dict[str, SnapshotSummary], bool]:
    rows = _load_rows(folder / INDEX_FILE)
    moved = any(name not in present for name in rows)
    rows = {name: row for name, row in rows.items() if name in present}
    for name, size in sorted(present.items()):
        known = rows.get(name)
        if known is not None and known.size == size:
            continue
        moved = True
        try:
            rows[name] = summary_of(name, size, read(folder / name))
        except SnapshotError as err:
            rows[name] = unreadable(name, size, err.detail or err.summary)
    return rows, moved


def _sync_contents(
    folder: Path, present: dict[str, int], read: Read
) -> tuple[dict[str, SnapshotEntry], bool]:
    seen, found = _load_contents(folder / CONTENTS_FILE)
    moved = any(name not in present for name in seen)
    for name, size in sorted(present.items()):
        if seen.get(name) == size:
            continue
        moved = True
        try:
            stored = read(folder / name)
        except SnapshotError:
            continue
        for entry in stored.new_entries:
            if entry.managed and entry.recreatable and entry.content_hash is not None:
                found.setdefault(entry.content_hash, entry)
    return found, moved


def snapshot_files(folder: Path) -> dict[str, int]:
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
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return found


_ROW_FIELDS = tuple(f.name for f in fields(SnapshotSummary))
_NUMBERS = {"size": False, "depth": False, "seq": True, "documents": True}  # name: may be null
_TEXTS = {"file": False, "id": False}  # every other field: a string or null


def _row(name: str, raw: object) -> SnapshotSummary | None:
    """A saved row, when it has exactly the shape this kbctl writes."""
    if not isinstance(raw, dict) or set(raw) != set(_ROW_FIELDS) or raw["file"] != name:
        return None
    for key, value in raw.items():
        nullable = _NUMBERS[key] if key in _NUMBERS else _TEXTS.get(key, True)
        if value is None and nullable:
            continue
        wanted = int if key in _NUMBERS else str
        if isinstance(value, bool) or not isinstance(value, wanted):
            return None
    return SnapshotSummary(**raw)


def _load_rows(path: Path) -> dict[str, SnapshotSummary]:
    """The saved rows; none when the file is missing or not what this kbctl writes."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {}
        rows: dict[str, SnapshotSummary] = {}
        for name, raw in data["files"].items():
            row = _row(name, raw)
            if row is None:
                return {}
            rows[name] = row
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}
    return rows


def _dumps_rows(rows: dict[str, SnapshotSummary]) -> bytes:
    data = {"format": FORMAT, "files": {name: asdict(row) for name, row in sorted(rows.items())}}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _load_contents(path: Path) -> tuple[dict[str, int], dict[str, SnapshotEntry]]:
    """(file name → size absorbed, contents); empty when missing or not this kbctl's."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return {}, {}
        seen = {str(name): int(size) for name, size in data["files"].items()}
        found = {
            str(digest): entry_from_json(value, str(path))
            for digest, value in data["contents"].items()
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError, SnapshotError):
        return {}, {}
    return seen, found


def _dumps_contents(present: dict[str, int], found: dict[str, SnapshotEntry]) -> bytes:
    data = {
        "format": FORMAT,
        "files": dict(sorted(present.items())),
        "contents": {d: entry_to_json(e) for d, e in sorted(found.items())},
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
