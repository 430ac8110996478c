"""Which snapshot `previous` names, chosen from the folder's index: only the records the choice
needs are read.

The runs `previous` walks back over (`kbctl.snapshots.history`) are built from the index's rows
(`catalog`): each row says a record's kind, run, time, agent, project, operation, outcome, the
snapshot a rollback went toward and whether the run updated the agent. A record is read (a
chunked one with its chunks, a delta one with its chain) only when the walk asks for the state
it records; the answer is that record, read in full. So `previous` costs the runs it walks
back over, not the history.

The answer is the one reading every record gives (`from_every_record`, what kbctl did before
the index served `previous`). The index reads a record only as far as a row needs, so a record
it lists may still fail a full read (a missing or damaged chunk, a broken delta chain, a bad
entry): every record from the oldest one the walk looked at onward, and every record of a run
with one there, is read in full before answering or refusing. If one of them cannot be, or the
rows and the records disagree, the choice is made again from every record (`Fallback`). A file
the index marks unreadable is refused as before, its error read from the file itself.

Owns the plan of what to read; must not decide what `previous` means (`history` does), nor
read files itself (the store passes its readers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kbctl.errors import SnapshotError
from kbctl.model import RagSettings
from kbctl.snapshots.catalog import SnapshotSummary
from kbctl.snapshots.history import (
    PICK_HINT,
    Describe,
    LiveAgents,
    Run,
    State,
    States,
    find_previous,
    runs_of,
    state_of,
)
from kbctl.snapshots.record import Done, Snapshot, SnapshotAgent, SnapshotKind, unread_sort_key

#: A record in full, by file name (a chunked one with its chunks, a delta one rebuilt).
ReadRecord = Callable[[str], Snapshot]
Key = tuple[str, int, str]


class Fallback(Exception):
    """The index and the records disagree: choose from every record instead."""


@dataclass(frozen=True, slots=True)
class Listed:
    """One file of an environment's folder: the snapshot, or why it could not be read."""

    path: Path
    snapshot: Snapshot | None
    error: str | None = None

    @property
    def sort_key(self) -> Key:
        """Oldest first: time, then the write sequence, then the file name."""
        if self.snapshot is None:
            return unread_sort_key(self.path.name)
        return (self.snapshot.created_at, self.snapshot.seq, self.path.name)


@dataclass(frozen=True, slots=True)
class Question:
    """What `previous` is asked about, and how to read what it cannot know offline."""

    environment: str
    folder: Path
    wanted: frozenset[str] | None  # projects whose runs count (None: all)
    live: LiveAgents | None
    load: Callable[[str], Snapshot]  # a snapshot by id (an unfinished rollback's target)
    written_by: Describe | None

    def counts(self, project: str | None) -> bool:
        return self.wanted is None or project in self.wanted

    def answer(
        self,
        runs: Sequence[Run],
        unreadable_newer_than: Callable[[Snapshot], SnapshotError | None],
        states: States = state_of,
    ) -> Snapshot:
        """`find_previous` among `runs`, asked this question."""
        return find_previous(
            runs,
            environment=self.environment,
            folder=str(self.folder),
            live=self.live,
            load=self.load,
            unreadable_newer_than=unreadable_newer_than,
            written_by=self.written_by,
            states=states,
        )


def from_every_record(listed: Sequence[Listed], question: Question) -> Snapshot:
    """`previous` among every file of the folder, each read in full (newest first)."""
    readable = [
        item.snapshot
        for item in listed
        if item.snapshot is not None and question.counts(item.snapshot.project)
    ]
    keys = {item.snapshot.id: item.sort_key for item in listed if item.snapshot is not None}
    unreadable = [item for item in listed if item.snapshot is None]

    def unreadable_newer_than(snapshot: Snapshot) -> SnapshotError | None:
        mine = keys[snapshot.id]
        newer = [item for item in unreadable if item.sort_key > mine]
        return unreadable_newer(newer[0]) if newer else None

    return question.answer(runs_of(readable), unreadable_newer_than)


def from_index(rows: Sequence[SnapshotSummary], read: ReadRecord, question: Question) -> Snapshot:
    """`previous` among the folder's index `rows` (every file, newest first), reading only
    the records whose state the choice needs, and those it must check (see the module).

    Raises:
        SnapshotError: as `from_every_record` would.
        Fallback: a record the rows describe cannot be read in full, or does not fit its row.
    """
    by_id = {row.id: row for row in rows if row.error is None}
    heads = {row.id: _head(row, question.environment) for row in rows if _counts(row, question)}
    runs: dict[str, list[str]] = {}
    for head in heads.values():
        runs.setdefault(head.apply_id, []).append(head.id)
    unreadable = [row for row in rows if row.error is not None]
    full: dict[str, Snapshot] = {}
    looked: set[str] = set()

    def record(ident: str) -> Snapshot:
        found = full.get(ident)
        if found is None:
            found = _read_fitting(by_id[ident], read)
            full[ident] = found
        return found

    def states(head: Snapshot) -> State | None:
        looked.add(head.id)
        return state_of(record(head.id))

    def unreadable_newer_than(head: Snapshot) -> SnapshotError | None:
        looked.update(runs[head.apply_id])
        mine = by_id[head.id].sort_key
        newer = [row for row in unreadable if row.sort_key > mine]
        return _refusal(newer[0], read, question.folder) if newer else None

    try:
        answer = question.answer(runs_of(heads.values()), unreadable_newer_than, states)
    except SnapshotError:
        _check_from(looked, by_id, heads, record)
        raise
    _check_from(looked, by_id, heads, record)
    return record(answer.id) if heads.get(answer.id) is answer else answer


def unreadable_newer(item: Listed) -> SnapshotError:
    """The refusal of `previous` when a file newer than its answer cannot be read."""
    return SnapshotError(
        f"Cannot tell which snapshot is 'previous': {item.path.name} cannot be read",
        detail=f"{item.path}: {item.error}",
        hint="Restore the file from git, or pick a snapshot by id: " + PICK_HINT,
    )


def _counts(row: SnapshotSummary, question: Question) -> bool:
    return row.error is None and question.counts(row.project)


def _check_from(
    looked: set[str],
    by_id: dict[str, SnapshotSummary],
    heads: dict[str, Snapshot],
    record: Callable[[str], Snapshot],
) -> None:
    """Read in full every record from the oldest one the walk looked at onward, and every
    record of the runs with one there (`Fallback` when one cannot be read)."""
    if not looked:
        return
    oldest = min(by_id[ident].sort_key for ident in looked)
    newer = {ident for ident, row in by_id.items() if row.sort_key >= oldest}
    their_runs = {heads[ident].apply_id for ident in newer if ident in heads}
    siblings = {ident for ident, head in heads.items() if head.apply_id in their_runs}
    for ident in sorted(newer | siblings, key=lambda i: by_id[i].sort_key):
        record(ident)


def _read_fitting(row: SnapshotSummary, read: ReadRecord) -> Snapshot:
    """The record of `row` in full; `Fallback` when it cannot be read or is not what its row
    says (an index from a file later replaced by one of the same size)."""
    try:
        snapshot = read(row.file)
    except SnapshotError:
        raise Fallback(row.file) from None
    if (
        snapshot.id != row.id
        or snapshot.apply_id != row.apply_id
        or (snapshot.created_at, snapshot.seq) != (row.created_at, row.seq)
        or snapshot.kind.value != row.kind
        or (snapshot.project, snapshot.agent.id) != (row.project, row.agent_id)
        or snapshot.operation != row.operation
        or snapshot.outcome != row.outcome
        or snapshot.rollback_of != row.rollback_of
        or snapshot.done.agent_updated != row.agent_updated
    ):
        raise Fallback(row.file)
    return snapshot


def _refusal(row: SnapshotSummary, read: ReadRecord, folder: Path) -> SnapshotError:
    """The refusal naming `row`, a file the index marks unreadable, with the error a full read
    of it gives (`Fallback` when it reads after all)."""
    try:
        read(row.file)
    except SnapshotError as err:
        return unreadable_newer(Listed(folder / row.file, None, err.detail or err.summary))
    raise Fallback(row.file)


def _head(row: SnapshotSummary, environment: str) -> Snapshot:
    """The snapshot a readable row describes, its knowledge base not read (None: the walk
    asks for its state through the record)."""
    if row.kind is None or row.created_at is None or row.seq is None:
        raise Fallback(row.file)
    try:
        kind = SnapshotKind(row.kind)
    except ValueError:
        raise Fallback(row.file) from None
    return Snapshot(
        id=row.id,
        environment=environment,
        project=row.project or "",
        manifest="",
        kind=kind,
        created_at=row.created_at,
        apply_id=row.apply_id or "",
        seq=row.seq,
        git_commit=row.git_commit,
        operation=row.operation or "",
        agent=SnapshotAgent(row.agent_id or "", None, None),
        rag=RagSettings(),
        knowledge_base=None,
        outcome=row.outcome or "",
        done=Done(agent_updated=row.agent_updated),
        rollback_of=row.rollback_of,
    )
