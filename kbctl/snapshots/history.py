"""An environment's runs, read back from its snapshots, and which state `previous` means.

`previous` is the state the agent had before the last run that actually changed it. Whether a
run changed the agent is judged by comparing what the agent used before it (its "before"
snapshot) with what it used after it, taken from the best witness there is, in this order:

1. the run's final "after" snapshot (a read of the live agent when the run ended);
2. the next run's "before" snapshot of the same agent (a run killed with `kill -9`, or during
   its PATCH, left no final "after", but the next run read the agent when it started);
3. the live agent, read now (the newest run of the agent was killed);
4. the run's own checkpoint (`done.agent_updated`), when nothing else can tell.

When the live agent no longer is what the newest record says and its version was written by
kbctl, a run left no record here (a CI job killed before it committed its snapshots): the state
before that run is the newest record's "after" state, and `previous` is that snapshot.

The agent's arrays are compared by document id, type and usage mode (names may be rewritten by
the server), plus the RAG settings. So a clean-up-only run (it deleted orphans but never wrote
the agent) is not "a run that changed something", and a run killed while its PATCH was in
flight is one exactly when the PATCH landed.

A rollback that did not finish (interrupted, killed, failed, stopped at a gate) is resumed by
`previous`: its target stays the answer until a rollback toward that same target finishes, so
re-running an interrupted `rollback --to previous` continues instead of flipping back.

Pure over snapshot values; the live agent comes through the `LiveAgents` callable (one read,
for the newest run) and a version's description through `Describe` (only when the live agent
moved since the newest record). Must not read files or talk HTTP itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kbctl.errors import SnapshotError
from kbctl.model import DocType, LiveAgent, RagSettings, UsageMode
from kbctl.snapshots.record import (
    APPLIED,
    IN_PROGRESS,
    NO_CHANGES,
    Snapshot,
    SnapshotKind,
)

#: Reads the live agent with this id (None: the agent's state cannot be read now).
LiveAgents = Callable[[str], LiveAgent | None]
#: The description agent `agent_id`'s version `version_id` was committed with, if any.
Describe = Callable[[str, str], str | None]
#: What decides whether a run changed the agent: (id, type, usage mode) sorted, and RAG.
State = tuple[tuple[tuple[str, str, str], ...], RagSettings]
#: The state a snapshot records (None: its knowledge base is unknown).
States = Callable[[Snapshot], State | None]

PICK_HINT = "List the snapshots with `kbctl snapshots list -e ENV`."


@dataclass(frozen=True, slots=True)
class Run:
    """One apply or rollback: its "before" snapshot and its latest "after" (final or checkpoint)."""

    apply_id: str
    before: Snapshot | None
    after: Snapshot | None

    @property
    def newest(self) -> Snapshot:
        """The run's most recent snapshot."""
        found = self.after or self.before
        assert found is not None
        return found

    @property
    def agent_id(self) -> str:
        return self.newest.agent.id

    @property
    def operation(self) -> str:
        return self.newest.operation

    @property
    def rollback_of(self) -> str | None:
        return self.newest.rollback_of

    @property
    def final(self) -> Snapshot | None:
        """The final "after" snapshot, if the run ended by itself (not killed)."""
        if self.after is None or self.after.outcome == IN_PROGRESS:
            return None
        return self.after

    @property
    def finished(self) -> bool:
        """True when the run did everything it set out to do."""
        final = self.final
        return final is not None and final.outcome in (APPLIED, NO_CHANGES)


def runs_of(snapshots: Iterable[Snapshot]) -> list[Run]:
    """The runs the snapshots record, oldest first."""
    befores: dict[str, Snapshot] = {}
    afters: dict[str, Snapshot] = {}
    for snapshot in snapshots:
        if snapshot.kind is SnapshotKind.BEFORE:
            befores[snapshot.apply_id] = snapshot
        else:
            current = afters.get(snapshot.apply_id)
            if current is None or _order(snapshot) > _order(current):
                afters[snapshot.apply_id] = snapshot
    ids = set(befores) | set(afters)
    found = [Run(i, befores.get(i), afters.get(i)) for i in ids]
    return sorted(found, key=lambda run: _order(run.before or run.newest))


def state_of(snapshot: Snapshot) -> State | None:
    """The state a snapshot records (None: its knowledge base is unknown)."""
    if snapshot.knowledge_base is None:
        return None
    return _state(snapshot.knowledge_base, snapshot.rag)


def live_state(agent: LiveAgent) -> State:
    """The state of a live agent."""
    return _state(agent.knowledge_base, agent.rag)


def find_previous(
    runs: Sequence[Run],
    *,
    environment: str,
    folder: str,
    live: LiveAgents | None,
    load: Callable[[str], Snapshot],
    unreadable_newer_than: Callable[[Snapshot], SnapshotError | None],
    written_by: Describe | None = None,
    states: States = state_of,
) -> Snapshot:
    """The snapshot `previous` names, among `runs` (oldest first).

    Args:
        environment, folder: name the environment and its snapshot folder in errors.
        live: reads an agent now (for a newest run that left no final record).
        load: a snapshot by id (the target of an unfinished rollback).
        unreadable_newer_than: the error to raise when a snapshot file newer than the given
            one cannot be read (going past it could go back too far); None when there is none.
        written_by: the description an agent version was committed with (who wrote it).
        states: the state a snapshot records (`state_of`; the store passes one that reads a
            record only when its state is asked for, the runs built from the index's rows).

    Raises:
        SnapshotError: no run changed anything; the answer's "before" snapshot is missing; an
            unreadable newer file; an unfinished rollback's target is gone.
    """
    answer = _walk(runs, environment, folder, live, load, unreadable_newer_than, states)
    return _after_unrecorded_run(runs, live, written_by, states) or answer


def _after_unrecorded_run(
    runs: Sequence[Run], live: LiveAgents | None, written_by: Describe | None, states: States
) -> Snapshot | None:
    """The newest run's final "after" snapshot, when a kbctl run left no record since.

    A CI job killed (or whose snapshot commit failed) writes no record here, yet it may have
    changed the agent: the live agent then differs from the newest record, and its version says
    kbctl wrote it. The state before that run is the newest record's "after" state. A change
    made by hand is not a run, and is left to the usual rule.
    """
    if not runs or live is None or written_by is None:
        return None
    newest = runs[-1]
    final = newest.final
    recorded = None if final is None else states(final)
    if final is None or recorded is None:
        return None
    agent = live(newest.agent_id)
    if agent is None or agent.version_id is None or live_state(agent) == recorded:
        return None
    text = written_by(newest.agent_id, agent.version_id) or ""
    return final if text.startswith("kbctl apply ") else None


def _walk(
    runs: Sequence[Run],
    environment: str,
    folder: str,
    live: LiveAgents | None,
    load: Callable[[str], Snapshot],
    unreadable_newer_than: Callable[[Snapshot], SnapshotError | None],
    states: States,
) -> Snapshot:
    finished_targets: set[str] = set()
    for index in range(len(runs) - 1, -1, -1):
        run = runs[index]
        problem = unreadable_newer_than(run.newest)
        if problem is not None:
            raise problem
        if run.operation == "rollback" and run.rollback_of is not None:
            if run.finished:
                finished_targets.add(run.rollback_of)
            elif run.rollback_of not in finished_targets:
                return _target_of(run, load)
        if not _changed(run, _next_of(runs, index), live, states):
            continue
        if run.before is None:
            raise SnapshotError(
                f"The 'before' snapshot of apply {run.apply_id} is missing",
                detail=f"Its 'after' snapshot is {run.newest.id}.",
                hint="Pick a snapshot by id: " + PICK_HINT,
            )
        return run.before
    raise SnapshotError(
        f"No earlier state to roll back to in environment '{environment}'",
        detail=f"No apply recorded in {folder} changed the agent, so there is no 'previous'.",
        hint=PICK_HINT,
    )


def _changed(run: Run, following: Run | None, live: LiveAgents | None, states: States) -> bool:
    """True when the agent's state after `run` differs from its state before."""
    before = states(run.before) if run.before is not None else None
    after = _state_after(run, following, live, states)
    if before is not None and after is not None:
        return before != after
    # Not enough witnesses: trust what the run itself recorded.
    newest = run.final or run.after
    return newest is not None and newest.done.agent_updated


def _state_after(
    run: Run, following: Run | None, live: LiveAgents | None, states: States
) -> State | None:
    final = run.final
    recorded = None if final is None else states(final)
    if recorded is not None:
        return recorded
    if following is not None and following.before is not None:
        return states(following.before)
    if following is None and live is not None:
        agent = live(run.agent_id)
        return live_state(agent) if agent is not None else None
    return None


def _next_of(runs: Sequence[Run], index: int) -> Run | None:
    """The next run of the same agent after `runs[index]`, if any."""
    agent_id = runs[index].agent_id
    return next((r for r in runs[index + 1 :] if r.agent_id == agent_id), None)


def _target_of(run: Run, load: Callable[[str], Snapshot]) -> Snapshot:
    assert run.rollback_of is not None
    try:
        return load(run.rollback_of)
    except SnapshotError as err:
        raise SnapshotError(
            f"The unfinished rollback {run.apply_id} went toward snapshot {run.rollback_of}, "
            "which cannot be read",
            detail=err.detail or err.summary,
            hint="Restore it from git, or pick a snapshot by id: " + PICK_HINT,
        ) from None


def _state(entries: Iterable[_Entry], rag: RagSettings) -> State:
    shape = tuple(sorted((e.id, e.doc_type.value, e.usage_mode.value) for e in entries))
    return shape, rag


def _order(snapshot: Snapshot) -> tuple[str, int]:
    return (snapshot.created_at, snapshot.seq)


class _Entry(Protocol):
    """What `_state` reads of an entry (`KbEntry` and `SnapshotEntry` both have it)."""

    @property
    def id(self) -> str: ...

    @property
    def doc_type(self) -> DocType: ...

    @property
    def usage_mode(self) -> UsageMode: ...
