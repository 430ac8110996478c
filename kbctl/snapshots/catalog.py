"""The index of one environment's snapshot folder, so neither apply nor `snapshots list` parses
the whole history.

Two dot-prefixed files (never listed as snapshots), both caches of what the records say:

- `<env>/.index.json`: one small row per record file (name, size, id, time, kind, operation,
  project, agent, commit, document count, outcome, write sequence, the snapshot a rollback went
  toward, whether the run updated the agent, delta base and depth, or why the file cannot be
  read). `kbctl snapshots list`, the write sequence, the choice of a delta base and the runs
  `previous` walks are served from it.
- `<env>/.contents.jsonl`: every re-creatable entry (by content hash) the records hold, so a
  new snapshot reuses an earlier blob: a JSON line per record, holding the contents it added
  (appended, so an apply writes only what it adds). Larger, so read only by apply and plan's
  content diffs, and its entries are parsed only when looked up (`ContentIndex`).

Each use lists the folder's names and sizes (no reads), parses only the files it has not seen
(a new record, or a folder from before the index: migrated on first use), forgets files that
are gone, and rewrites the index when it moved. A missing, damaged, conflicted or older-format
index is rebuilt from the files. File names carry the record's id (a hash of its content,
checked on read), so a known name and size is a known record. Parsing a record here never
rebuilds a delta chain (a delta's own fields say everything a row needs), and reads a chunked
record's chunks only for the content index.
Owns the index files; must not decide anything about snapshots (the store does).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from kbctl.errors import SnapshotError
from kbctl.snapshots.codec import entry_from_json, entry_to_json
from kbctl.snapshots.record import IN_PROGRESS, SnapshotEntry, unread_sort_key
from kbctl.snapshots.recordfile import Stored

INDEX_FILE = ".index.json"
CONTENTS_FILE = ".contents.jsonl"
FORMAT = 3  # 3: rows say `rollback_of` and `agent_updated`

Read = Callable[[Path, bool], Stored]
Write = Callable[[Path, bytes], None]
ReadChunk = Callable[[str], object]  # a chunk blob's JSON, verified against its name


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
    rollback_of: str | None = None
    agent_updated: bool = False
    base: str | None = None  # the record a delta record is stored against
    depth: int = 0  # records to read back to a full one
    error: str | None = None

    @property
    def sort_key(self) -> tuple[str, int, str]:
        """Oldest first: time, then the write sequence, then the file name."""
        if self.created_at is None or self.seq is None:
            return unread_sort_key(self.file)
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
        rollback_of=snapshot.rollback_of,
        agent_updated=snapshot.done.agent_updated,
        base=None if stored.delta is None else stored.delta.base,
        depth=stored.depth,
    )


def unreadable(name: str, size: int, error: str) -> SnapshotSummary:
    """The row of a file that cannot be read."""
    stem = name[:-5] if name.endswith(".json") else name
    return SnapshotSummary(file=name, size=size, id=stem.rsplit("-", 1)[-1], error=error)


class ContentIndex:
    """Re-creatable contents by content hash, as the index keeps them: an entry is parsed
    (strictly) only when asked for, so a large index costs one JSON parse."""

    def __init__(self, raw: dict[str, dict[str, object]], source: str) -> None:
        self._raw = raw
        self._source = source

    def __len__(self) -> int:
        return len(self._raw)

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __contains__(self, digest: object) -> bool:
        return digest in self._raw

    def get(self, digest: str) -> SnapshotEntry | None:
        """The entry stored for `digest` (None: unknown, or damaged in the index)."""
        raw = self._raw.get(digest)
        if raw is None:
            return None
        try:
            return entry_from_json(raw, self._source)
        except SnapshotError:
            return None

    def outline(self) -> Iterator[tuple[str, str | None, str | None, str | None]]:
        """(content hash, key, type, blob) of every entry, read without parsing the entries
        (a field of the wrong type reads as None; `get` is the strict reader)."""
        for digest, raw in self._raw.items():
            blob = _text(raw.get("blob"))
            if blob is not None and not _HEX64.fullmatch(blob):
                blob = None
            yield digest, _text(raw.get("key")), _text(raw.get("type")), blob

    def merged(self, other: ContentIndex) -> ContentIndex:
        """This index with the entries of `other` it lacks."""
        return ContentIndex({**other._raw, **self._raw}, self._source)


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(slots=True)
class Catalog:
    """What the index knows: the rows by file name, and (when asked for) the contents."""

    rows: dict[str, SnapshotSummary]
    contents: ContentIndex

    @property
    def max_seq(self) -> int:
        """The greatest write sequence of a readable record (0 when none)."""
        return max((r.seq for r in self.rows.values() if r.seq is not None), default=0)

    def newest_first(self) -> list[SnapshotSummary]:
        """The rows, newest first."""
        return sorted(self.rows.values(), key=lambda r: r.sort_key, reverse=True)


def synced(
    folder: Path, read: Read, write: Write, read_chunk: ReadChunk, *, contents: bool = False
) -> Catalog:
    """The catalog of `folder`, brought up to date with its files, each new one parsed once;
    `read(path, entries)` parses a record (never rebuilding a delta nor reading a chunk;
    `entries=False`: a full record's entries only counted), `write` stores an index file
    atomically. `contents` also brings the content index up to date (which needs the entries:
    a chunked record's are taken from `read_chunk`, each chunk once, without parsing them)."""
    present = snapshot_files(folder)
    rows = _load_rows(folder / INDEX_FILE)
    rows_moved = any(name not in present for name in rows)
    rows = {name: row for name, row in rows.items() if name in present}
    seen: dict[str, int] = {}
    found: dict[str, dict[str, object]] = {}
    lines: list[bytes] = []  # what this sync adds to the content index, a line per record
    absorbed: set[str] = set()  # chunks whose entries this sync took in
    whole = False  # the content index must be written anew (missing or damaged)
    if contents:
        seen, found, whole = _load_contents(folder / CONTENTS_FILE)
    for name, size in sorted(present.items()):
        known = rows.get(name)
        row_stale = known is None or known.size != size
        absorb = contents and seen.get(name) != size
        if not row_stale and not absorb:
            continue
        rows_moved = rows_moved or row_stale
        try:
            stored = read(folder / name, absorb)
        except SnapshotError as err:
            if row_stale:
                rows[name] = unreadable(name, size, err.detail or err.summary)
            continue
        if row_stale:
            rows[name] = summary_of(name, size, stored)
        if absorb:
            try:
                added = _added(stored, found, absorbed, read_chunk)
            except SnapshotError:
                continue  # a chunk is missing or damaged: `show` says so; nothing to take in
            seen[name] = size
            lines.append(_contents_line(name, size, added))
    # The index is a cache: a folder that cannot be written (a read-only checkout) is read
    # anyway, the rows and contents rebuilt in memory.
    with contextlib.suppress(OSError):
        if present and rows_moved:
            write(folder / INDEX_FILE, _dumps_rows(rows))
    with contextlib.suppress(OSError):
        if present and whole:
            write(folder / CONTENTS_FILE, b"".join(lines))  # every record was absorbed anew
        elif lines:
            _append(folder / CONTENTS_FILE, b"".join(lines))
    return Catalog(rows, ContentIndex(found, str(folder / CONTENTS_FILE)))


def _added(
    stored: Stored, found: dict[str, dict[str, object]], absorbed: set[str], read_chunk: ReadChunk
) -> dict[str, dict[str, object]]:
    """The re-creatable contents `stored` adds to `found` (which takes them in), as raw
    entries: a chunked record's from the chunks not `absorbed` yet (their JSON is what
    `entry_to_json` writes; `ContentIndex.get` parses an entry when it is looked up)."""
    raws: list[object] = []
    chunks: list[str] = []
    if stored.chunked is not None and stored.snapshot.knowledge_base is None:
        chunks = [ref.blob for ref in stored.chunked.chunks if ref.blob not in absorbed]
        for blob in dict.fromkeys(chunks):
            data = read_chunk(blob)
            raws.extend(data if isinstance(data, list) else ())
    else:
        raws.extend(entry_to_json(e) for e in stored.new_entries)
    added: dict[str, dict[str, object]] = {}
    for raw in raws:
        if not isinstance(raw, dict) or not _recreatable(raw):
            continue
        digest = raw["content_hash"]
        if digest not in found and digest not in added:
            added[digest] = raw
    absorbed.update(chunks)
    found.update(added)
    return added


def _recreatable(raw: dict[str, object]) -> bool:
    """`SnapshotEntry.recreatable` of an entry's JSON, without parsing it (managed, with a
    content hash, and a URL or a blob)."""
    if raw.get("managed") is not True or not isinstance(raw.get("content_hash"), str):
        return False
    return isinstance(raw.get("url" if raw.get("type") == "url" else "blob"), str)


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
_FLAGS = {"agent_updated"}


def _row(name: str, raw: object) -> SnapshotSummary | None:
    """A saved row, when it has exactly the shape this kbctl writes."""
    if not isinstance(raw, dict) or set(raw) != set(_ROW_FIELDS) or raw["file"] != name:
        return None
    for key, value in raw.items():
        if key in _FLAGS:
            if not isinstance(value, bool):
                return None
            continue
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


def _load_contents(path: Path) -> tuple[dict[str, int], dict[str, dict[str, object]], bool]:
    """(file name → size absorbed, raw entries, whether to write the file anew): a JSON line
    per record absorbed, `{"file", "size", "contents"}` (the contents it added); a missing
    file or a damaged line (an append cut short) makes every record be absorbed anew."""
    seen: dict[str, int] = {}
    found: dict[str, dict[str, object]] = {}
    try:
        text = path.read_bytes()
    except OSError:
        return seen, found, True
    for line in text.splitlines():
        try:
            data = json.loads(line)
            name, size, added = data["file"], data["size"], data["contents"]
            if (
                not isinstance(name, str)
                or not isinstance(size, int)
                or not isinstance(added, dict)
            ):
                raise ValueError("not a contents line")
        except (ValueError, TypeError, KeyError):
            return {}, {}, True
        if name:
            seen[name] = size
        for digest, raw in added.items():
            if isinstance(raw, dict):
                found.setdefault(digest, raw)
    if text and not text.endswith(b"\n"):
        return {}, {}, True
    return seen, found, False


def _contents_line(name: str, size: int, added: dict[str, dict[str, object]]) -> bytes:
    """One line of the content index: the contents record `name` added."""
    data = {"file": name, "size": size, "contents": dict(sorted(added.items()))}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8") + b"\n"


def _append(path: Path, data: bytes) -> None:
    """Add lines to the content index (a cache: a line cut short is rebuilt from the records)."""
    with open(path, "ab") as handle:
        handle.write(data)
