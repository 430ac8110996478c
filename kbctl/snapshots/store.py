"""The snapshot directory: atomic JSON records per environment and content-addressed blobs.

Layout (DESIGN §6), under the snapshots directory (`state-snapshots/` by default):

    <env>/<YYYYMMDDTHHMMSSZ>-<id>.json   one record per file, canonical JSON: full, or for a
                                         large knowledge base chunked (`chunks`); delta records
                                         of older kbctl versions are read (`delta`)
    <env>/.index.json, .contents.jsonl   rebuildable indexes of the records (`catalog`)
    blobs/<sha256>.gz                    document contents and knowledge-base chunks, gzip,
                                         shared by every environment

Every write is atomic (temp file in the same folder, fsync, `os.replace`), so a crash leaves
either the old file or the new one, never half of one; a leftover temp file is ignored. Blobs
(`blobs`), a record's chunks included, are written before the record naming them, and flushed
before any durable one is. A record needs no other record: a chunked one reads its chunks, a
delta one (older versions) its chain of base records. Owns: writing records (full or chunked),
finding, listing (from the index) and resolving snapshots (`previous`, judged in `history`,
chosen from the index's rows in `previous`: only the records it needs are read),
and refusing corrupt, missing or foreign ones with a `SnapshotError`. Must not talk to the API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from kbctl.errors import SnapshotError
from kbctl.identity import content_hash
from kbctl.model import DocType
from kbctl.snapshots.blobs import Blobs, atomic_write, sha256_hex
from kbctl.snapshots.catalog import Catalog, ContentIndex, SnapshotSummary, synced
from kbctl.snapshots.chain import PICK_HINT, Chain, Chunks, read_stored
from kbctl.snapshots.chunks import CHUNKED_ABOVE, Chunked, split
from kbctl.snapshots.codec import TextMemo
from kbctl.snapshots.history import Describe, LiveAgents
from kbctl.snapshots.previous import Fallback, Listed, Question, from_every_record, from_index
from kbctl.snapshots.record import Snapshot, SnapshotEntry
from kbctl.snapshots.recordfile import Stored, dumps_record

__all__ = ["Base", "Listed", "SnapshotStore", "atomic_write", "sha256_hex"]

BLOBS = "blobs"
PREVIOUS = "previous"
_PICK_HINT = PICK_HINT
#: Full parses a store remembers (a base record of 10,000 documents is read once per apply).
PARSED_KEPT = 4
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Base:
    """The newest finished record before a run: its file name and knowledge base (it holds
    the contents of the documents the run replaces)."""

    file: str
    knowledge_base: tuple[SnapshotEntry, ...]


class SnapshotStore:
    """Snapshots and blobs under one directory."""

    def __init__(self, root: Path, *, chunked_above: int = CHUNKED_ABOVE) -> None:
        self.root = root
        self.chunked_above = chunked_above  # larger knowledge bases are written chunked
        self._parsed: dict[tuple[Path, int, int], Stored] = {}  # see `_stored`
        self.texts: TextMemo = {}  # entries' JSON, for the ids and hashes of a run's records
        self._boundaries: dict[str, bool] = {}  # whether an entry id ends a chunk
        self._chunked_memo: tuple[tuple[SnapshotEntry, ...], Chunked] | None = None
        self.blobs = Blobs(root / BLOBS)
        self._chunks = Chunks(self.blobs)

    # ---------------------------------------------------------------------------------- blobs

    def blob_path(self, digest: str) -> Path:
        """Where the blob `digest` lives."""
        return self.blobs.path(digest)

    def has_blob(self, digest: str) -> bool:
        """True when the blob file exists (not verified)."""
        return self.blobs.exists(digest)

    def read_blob(self, digest: str) -> bytes:
        """The bytes of blob `digest`, verified against its name.

        Raises:
            SnapshotError: the blob is missing, not gzip, or its content does not match its hash.
        """
        return self.blobs.read(digest)

    # ------------------------------------------------------------------------------ snapshots

    def env_dir(self, environment: str) -> Path:
        """The folder of one environment's snapshots."""
        if environment == BLOBS or not environment or "/" in environment:
            raise SnapshotError(
                f"Environment name {environment!r} cannot hold snapshots",
                hint=f"'{BLOBS}' is the folder of the shared blobs; rename the environment.",
            )
        return self.root / environment

    def write(self, snapshot: Snapshot, *, durable: bool = True) -> Path:
        """Write one snapshot atomically, chunked when its knowledge base is large (its new
        chunks written first); returns its path. A durable write first makes every blob
        written so far durable."""
        path = self.env_dir(snapshot.environment) / snapshot.file_name
        chunked = self._chunked(snapshot.knowledge_base)
        if durable:
            self.blobs.flush()
        atomic_write(path, dumps_record(snapshot, chunked=chunked).encode("utf-8"), durable=durable)
        return path

    def _chunked(self, kb: tuple[SnapshotEntry, ...] | None) -> Chunked | None:
        """`kb` stored as chunks (the blobs of new ones written), or None: written in full."""
        if kb is None or len(kb) <= self.chunked_above:
            return None
        memo = self._chunked_memo  # checkpoints rewrite the same knowledge base many times
        if memo is not None and memo[0] is kb:
            return memo[1]
        pieces = split(kb, self.texts, boundaries=self._boundaries)
        chunked = pieces.named(self.blobs.put_many(data for data, _ in pieces.chunks))
        self._chunked_memo = (kb, chunked)
        return chunked

    def replace(self, old: Path, snapshot: Snapshot, *, durable: bool = True) -> Path:
        """Write `snapshot` and remove `old` (a checkpoint it supersedes), new file first."""
        path = self.write(snapshot, durable=durable)
        if old != path:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        return path

    def latest_base(self, environment: str, agent_id: str) -> Base | None:
        """The newest finished record of `agent_id` in `environment` (found in the index; only
        that record is read), or None."""
        for row in self._catalog(environment).newest_first():
            if row.agent_id != agent_id or not row.can_be_base:
                continue
            try:
                found = self._read(self.env_dir(environment) / row.file, environment)
            except SnapshotError:
                continue
            if found.knowledge_base is not None:
                return Base(row.file, found.knowledge_base)
        return None

    def environments(self) -> tuple[str, ...]:
        """Every environment that has a snapshot folder."""
        if not self.root.is_dir():
            return ()
        return tuple(
            sorted(
                p.name
                for p in self.root.iterdir()
                if p.is_dir() and p.name != BLOBS and not p.name.startswith(".")
            )
        )

    def summaries(self, environment: str, *, keep: bool = True) -> tuple[SnapshotSummary, ...]:
        """Every record file of `environment`, newest first, from the folder's index (only
        records not seen before are parsed; no delta chain is rebuilt). `keep=False` leaves
        the index file as it is (a refused rollback touches nothing)."""
        rows = self._catalog(environment, keep=keep).newest_first()
        names = {row.file for row in rows}
        return tuple(
            replace(row, error=f"its base record {row.base} is missing")
            if row.base is not None and row.error is None and row.base not in names
            else row
            for row in rows
        )

    def list(self, environment: str) -> tuple[Listed, ...]:
        """Every snapshot file of `environment`, newest first (unreadable ones included),
        each read in full (delta records rebuilt, each chain once)."""
        folder = self.env_dir(environment)
        if not folder.is_dir():
            return ()
        chain = self._chain()
        found: list[Listed] = []
        for path in sorted(folder.iterdir()):  # in time order: neighbours share chunks
            if not _is_snapshot_file(path):
                continue
            try:
                found.append(Listed(path, chain.read(path, environment)))
            except SnapshotError as err:
                found.append(Listed(path, None, err.detail or err.summary))
        return tuple(sorted(found, key=lambda item: item.sort_key, reverse=True))

    def snapshots(self, environment: str) -> tuple[Snapshot, ...]:
        """The readable snapshots of `environment`, newest first."""
        return tuple(item.snapshot for item in self.list(environment) if item.snapshot)

    def next_seq(self, environment: str) -> int:
        """A write sequence number greater than any in the environment (orders equal times),
        from the folder's index: only records not seen before are parsed."""
        return self._catalog(environment).max_seq + 1

    def find(self, ref: str) -> Path:
        """The file of snapshot `ref` (an id, a file name or a path), in any environment.

        Raises:
            SnapshotError: no snapshot has that id, or several do.
        """
        as_path = Path(ref)
        if ref.endswith(".json") and as_path.is_file():
            return as_path
        wanted = ref[:-5] if ref.endswith(".json") else ref
        matches: list[Path] = []
        for environment in self.environments():
            for path in (self.root / environment).iterdir():
                if not _is_snapshot_file(path):
                    continue
                stem = path.name[:-5]
                if stem == wanted or stem.rsplit("-", 1)[-1] == wanted:
                    matches.append(path)
        if not matches:
            raise SnapshotError(
                f"No snapshot {ref!r}",
                detail=f"Looked in {self.root}/<env>/ for a file named *-{wanted}.json.",
                hint=_PICK_HINT + " Pass --snapshots-dir if they live elsewhere.",
            )
        if len(matches) > 1:
            raise SnapshotError(
                f"Snapshot id {ref!r} is ambiguous",
                detail="\n".join(str(p) for p in sorted(matches)),
                hint="Pass the file name instead of the id.",
            )
        return matches[0]

    def load(self, ref: str) -> Snapshot:
        """The snapshot `ref` (id, file name or path), checked against the folder it is in."""
        path = self.find(ref)
        return self._read(path, path.parent.name)

    def resolve(
        self,
        ref: str,
        environment: str,
        *,
        projects: Iterable[str] | None = None,
        live: LiveAgents | None = None,
        written_by: Describe | None = None,
    ) -> Snapshot:
        """The snapshot a rollback of `environment` names: an id or `previous`.

        `previous` is the state before the most recent run (apply or rollback) in the
        environment that changed the agent, optionally among `projects` only; an unfinished
        rollback is resumed toward its target (see `kbctl.snapshots.history`). The runs come
        from the folder's index, and only the records the choice needs are read (see
        `kbctl.snapshots.previous`); the index file is left as it is. `live` reads an agent
        now and `written_by` names who wrote a version: they judge runs that left no final
        record (each asked at most once per agent or version).

        Raises:
            SnapshotError: unknown, ambiguous, corrupt or foreign (another environment).
        """
        if ref != PREVIOUS:
            return self._own(self.load(ref), environment)
        folder = self.env_dir(environment)
        question = Question(
            environment,
            folder,
            None if projects is None else frozenset(projects),
            None if live is None else _remembered(live),
            lambda ident: self._own(self.load(ident), environment),
            None if written_by is None else _remembered(written_by),
        )
        chain = self._chain()
        try:
            return from_index(
                self.summaries(environment, keep=False),
                lambda file: chain.read(folder / file, environment),
                question,
            )
        except Fallback:  # a record is not what the index says: read them all
            return from_every_record(self.list(environment), question)

    def _own(self, snapshot: Snapshot, environment: str) -> Snapshot:
        """`snapshot`, refused when it belongs to another environment."""
        if snapshot.environment != environment:
            raise SnapshotError(
                f"Snapshot {snapshot.id} belongs to environment "
                f"'{snapshot.environment}', not '{environment}'",
                detail="A rollback only restores a snapshot of the environment it runs in.",
                hint=f"See this environment's snapshots: kbctl snapshots list -e {environment}",
            )
        return snapshot

    def verify(self, snapshot: Snapshot) -> dict[str, bytes]:
        """Check that every managed document's content can be read back exactly.

        Returns the content of every blob the managed entries name, by blob digest.

        Raises:
            SnapshotError: a blob is missing or damaged, or its content is not what the entry's
                content hash says.
        """
        contents: dict[str, bytes] = {}
        for entry in snapshot.managed_entries:
            if entry.doc_type is DocType.URL and entry.url is not None:
                data = entry.url.encode("utf-8")
                source = f"URL {entry.url}"
            elif entry.blob is not None:
                cached = contents.get(entry.blob)
                data = self.read_blob(entry.blob) if cached is None else cached
                contents[entry.blob] = data
                source = f"Blob {entry.blob[:12]}"
            else:
                continue
            if entry.content_hash is not None and content_hash(entry.doc_type, data) != (
                entry.content_hash
            ):
                raise SnapshotError(
                    f"Snapshot {snapshot.id}: the content of '{entry.key}' does not match its hash",
                    detail=f"{source} is not the content hashed {entry.content_hash[:12]}.",
                    hint="The snapshot or its blob was edited; restore them from git.",
                )
        return contents

    def content_index(self) -> ContentIndex:
        """Every re-creatable entry of every readable snapshot, by content hash (from the
        folders' indexes). Lets a new snapshot reuse the blob an earlier one stored."""
        index = ContentIndex({}, str(self.root))
        for environment in self.environments():
            index = index.merged(self._catalog(environment, contents=True).contents)
        return index

    def _catalog(self, environment: str, *, contents: bool = False, keep: bool = True) -> Catalog:
        return synced(
            self.env_dir(environment),
            lambda path, entries: self._parse(path, environment, entries=entries),
            # A cache, rebuildable: written without fsync, or not at all (`keep=False`).
            (lambda path, data: atomic_write(path, data, durable=False)) if keep else _unkept,
            self._chunks.raw,
            contents=contents,
        )

    def _chain(self) -> Chain:
        return Chain(self._stored)

    def _stored(self, path: Path, environment: str) -> Stored:
        """The record in `path` with its knowledge base (a chunked record's chunks read), but
        for a delta record (the chain rebuilds it)."""
        return self._chunks.resolve(path, self._parse(path, environment, entries=True))

    def _parse(self, path: Path, environment: str, *, entries: bool) -> Stored:
        """`read_stored`, remembering the last few full parses (the index, the newest record
        and its chain read the same records one after the other)."""
        try:
            stat = path.stat()
        except OSError:
            return read_stored(path, environment, entries=entries)
        key = (path, stat.st_size, stat.st_mtime_ns)
        found = self._parsed.get(key)
        if found is not None:
            return found
        stored = read_stored(path, environment, entries=entries)
        if entries:
            self._parsed[key] = stored
            while len(self._parsed) > PARSED_KEPT:
                del self._parsed[next(iter(self._parsed))]
        return stored

    def _read(self, path: Path, folder_environment: str) -> Snapshot:
        """The snapshot in `path`, a delta record rebuilt from its chain."""
        return self._chain().read(path, folder_environment)


def _unkept(path: Path, data: bytes) -> None:
    """Where an index is not to be written."""


def _remembered(read: Callable[..., _T]) -> Callable[..., _T]:
    """`read`, asked once per arguments (the live agent is read once, whichever way
    `previous` is chosen)."""
    answers: dict[tuple[str, ...], _T] = {}

    def once(*args: str) -> _T:
        if args not in answers:
            answers[args] = read(*args)
        return answers[args]

    return once


def _is_snapshot_file(path: Path) -> bool:
    """Snapshot files, not temp files left by a crash (dot-prefixed) or anything else."""
    return path.is_file() and path.name.endswith(".json") and not path.name.startswith(".")
