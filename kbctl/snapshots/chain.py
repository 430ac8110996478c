"""Reading record files: one as it is stored, a chunked record's knowledge base read from its
chunk blobs, and a delta record rebuilt from its chain.

`read_stored` parses one file (full, delta or chunked, see `recordfile`) and checks it against
its folder and name. `Chunks.resolve` reads a chunked record's chunks (each blob verified
against its name, recent chunks remembered: consecutive records share most of them) and checks
the result against the record's counts and sha256; a missing or damaged chunk is a
`SnapshotError` naming the record and the blob. `Chain.read` follows a delta's `base` file
names back to a record that needs no other (each step one depth less, so a chain is at most as
long as its first depth and can never loop), rebuilds the knowledge base forward and checks the
result against the recorded sha256. A missing,
unreadable or altered base is a `SnapshotError` naming both records. One `Chain` remembers the
records it rebuilt, so reading a whole folder rebuilds each record once.
Reads files only; must not write, or decide how records are stored (the store does).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from kbctl.errors import SnapshotError
from kbctl.snapshots.blobs import Blobs
from kbctl.snapshots.chunks import EntryMemo, chunk_entries, joined
from kbctl.snapshots.delta import kb_digest, rebuild
from kbctl.snapshots.record import Snapshot, SnapshotEntry
from kbctl.snapshots.recordfile import Stored, parse_record, resolved

PICK_HINT = "List the snapshots with `kbctl snapshots list -e ENV`."
_KEEP_HINT = (
    "Restore it from git: a delta record needs every record back to the last full one, so "
    "keep them together when pruning snapshots. Or pick another snapshot with "
    "`kbctl snapshots list`."
)

ReadStored = Callable[[Path, str], Stored]  # a record as stored, with its entries
#: Chunks whose entries a reader remembers (a record of 10,000 documents has about 625).
CHUNKS_KEPT = 4096


def read_stored(path: Path, folder_environment: str, *, entries: bool = True) -> Stored:
    """The record in `path` as the file holds it, checked against its folder and name
    (`entries=False`: a full record's knowledge base only counted, see `parse_record`).

    Raises:
        SnapshotError: missing, unreadable, corrupt, in the wrong folder or misnamed.
    """
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError(f"Snapshot file {path} is missing", hint=PICK_HINT) from None
    except OSError as err:
        raise SnapshotError(f"Snapshot {path} cannot be read", detail=str(err)) from None
    stored = parse_record(text, str(path), entries=entries)
    snapshot = stored.snapshot
    if snapshot.environment != folder_environment:
        raise SnapshotError(
            f"Snapshot {path} is in the wrong folder",
            detail=f"It records environment '{snapshot.environment}' but lies in "
            f"'{folder_environment}/'.",
            hint="Move it back to its environment's folder.",
        )
    if not path.name.endswith(f"-{snapshot.id}.json"):
        raise SnapshotError(
            f"Snapshot {path} is corrupt",
            detail=f"Its id {snapshot.id!r} does not match the file name.",
            hint="Restore the file from git.",
        )
    return stored


class Chunks:
    """Reads chunked records' knowledge bases from the blob folder, remembering recent chunks
    (their entries are then shared by the records that name them)."""

    def __init__(self, blobs: Blobs, kept: int = CHUNKS_KEPT) -> None:
        self._blobs = blobs
        self._kept = kept
        self._found: OrderedDict[str, tuple[bytes, tuple[SnapshotEntry, ...]]] = OrderedDict()
        self._entries: EntryMemo = {}  # every entry read, by its JSON: records share them

    def resolve(self, path: Path, stored: Stored) -> Stored:
        """`stored` with its knowledge base, read from its chunks when it is a chunked record.

        Raises:
            SnapshotError: a chunk is missing or damaged, or the chunks do not make the
                knowledge base the record describes.
        """
        chunked = stored.chunked
        if chunked is None or stored.snapshot.knowledge_base is not None:
            return stored
        parts = [self._chunk(path, ref.blob) for ref in chunked.chunks]
        entries = joined(chunked, parts, path.name)
        return replace(stored, snapshot=resolved(stored, entries))

    def raw(self, digest: str) -> object:
        """A chunk's JSON, verified against its name but not parsed into entries.

        Raises:
            SnapshotError: the chunk is missing or damaged, or not JSON.
        """
        found = self._found.get(digest)
        data = self._blobs.read(digest) if found is None else found[0]
        try:
            return json.loads(data)
        except ValueError as err:
            raise SnapshotError(
                f"Snapshot blob {digest[:12]} is not a chunk", detail=str(err)
            ) from None

    def _chunk(self, record: Path, digest: str) -> tuple[bytes, tuple[SnapshotEntry, ...]]:
        found = self._found.get(digest)
        if found is not None:
            self._found.move_to_end(digest)
            return found
        try:
            data = self._blobs.read(digest)
        except SnapshotError as err:
            raise _chunk_error(record, digest, self._blobs.path(digest), err) from None
        found = (data, chunk_entries(data, f"{record.name} (chunk {digest[:12]})", self._entries))
        self._found[digest] = found
        while len(self._found) > self._kept:
            self._found.popitem(last=False)
        return found


def _chunk_error(record: Path, digest: str, path: Path, err: SnapshotError) -> SnapshotError:
    missing = not path.exists()
    what = (
        f"expected at {path}"
        if missing
        else err.summary + (f": {err.detail}" if err.detail else "")
    )
    return SnapshotError(
        f"Snapshot {record.name} cannot be read: its chunk blob {digest[:12]} is "
        + ("missing" if missing else "damaged"),
        detail=f"{record.name} stores its knowledge base in chunks under blobs/; chunk "
        f"{digest}: {what}.",
        hint="Restore the blob folder from git: a record needs every chunk it names, so keep "
        "the blobs when pruning snapshots. Or pick another snapshot with `kbctl snapshots list`.",
    )


@dataclass(frozen=True, slots=True)
class _Rebuilt:
    snapshot: Snapshot
    depth: int
    sha256: str | None  # what a delta record's rebuilt knowledge base must hash to
    checked: bool


class Chain:
    """Rebuilds records from their chains, remembering what it rebuilt."""

    def __init__(self, read: ReadStored = read_stored) -> None:
        self._read = read
        self._done: dict[Path, _Rebuilt] = {}

    def read(self, path: Path, environment: str) -> Snapshot:
        """The snapshot in `path`, a delta record rebuilt from its chain and checked.

        Raises:
            SnapshotError: the record or a base record is missing, unreadable or altered.
        """
        found = self._done.get(path)
        if found is None:
            self._rebuild(path, environment)
            found = self._done[path]
        if not found.checked:
            if found.sha256 is not None and kb_digest(found.snapshot.knowledge_base or ()) != (
                found.sha256
            ):
                raise _altered(path)
            self._done[path] = replace(found, checked=True)
        return found.snapshot

    def _rebuild(self, path: Path, environment: str) -> None:
        walk: list[tuple[Path, Stored]] = []  # from `path` back toward a full record
        current = path
        while current not in self._done:
            stored = self._base(path, current, environment)
            if walk and stored.depth != walk[-1][1].depth - 1:
                raise _bad_base(walk[-1], current, f"is {stored.depth} record(s) from a full one")
            walk.append((current, stored))
            if stored.delta is None:
                break
            current = current.parent / stored.delta.base
            if not current.is_file():
                raise _missing_base(path, walk[-1], current)
        if walk and walk[-1][1].delta is None:
            where, full = walk.pop()
            self._done[where] = _Rebuilt(full.snapshot, 0, None, True)
            current = where
        below = self._done[current]
        if walk and below.depth != walk[-1][1].depth - 1:
            raise _bad_base(walk[-1], current, f"is {below.depth} record(s) from a full one")
        entries = below.snapshot.knowledge_base
        if walk and entries is None:
            raise _bad_base(walk[-1], current, "records no knowledge base")
        for where, stored in reversed(walk):
            assert stored.delta is not None and entries is not None
            entries = rebuild(entries, stored.delta, where.name)
            rebuilt = resolved(stored, entries)
            self._done[where] = _Rebuilt(rebuilt, stored.depth, stored.delta.sha256, False)

    def _base(self, top: Path, path: Path, environment: str) -> Stored:
        """`path` as stored; a base record that cannot be read is named as such."""
        try:
            return self._read(path, environment)
        except SnapshotError as err:
            if path == top:
                raise
            raise SnapshotError(
                f"Snapshot {top.name} cannot be read: its base record {path.name} is unreadable",
                detail=f"{err.summary}" + (f"\n{err.detail}" if err.detail else ""),
                hint=_KEEP_HINT,
            ) from None


def _missing_base(top: Path, record: tuple[Path, Stored], base: Path) -> SnapshotError:
    where, _ = record
    return SnapshotError(
        f"Snapshot {top.name} cannot be read: its base record {base.name} is missing",
        detail=f"{where} stores only its changes from {base.name}, expected at {base}.",
        hint=_KEEP_HINT,
    )


def _bad_base(record: tuple[Path, Stored], base: Path, problem: str) -> SnapshotError:
    where, stored = record
    depth = stored.depth
    return SnapshotError(
        f"Snapshot {where.name} cannot be read: its base record {base.name} does not fit",
        detail=f"{where.name} is stored {depth} record(s) from a full one and names "
        f"{base.name} as its base, which {problem}.",
        hint=_KEEP_HINT,
    )


def _altered(top: Path) -> SnapshotError:
    return SnapshotError(
        f"Snapshot {top.name} cannot be rebuilt: its base records were changed",
        detail=f"{top.name} stores only its changes from earlier records; rebuilt from them, "
        "its knowledge base is not the one it recorded (sha256): one of them was altered "
        "after it was written.",
        hint=_KEEP_HINT,
    )
