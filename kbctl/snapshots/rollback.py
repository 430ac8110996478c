"""Rollback, up to the plan: pick and check the snapshot offline, then plan toward it.

`prepare_rollback` does everything that can refuse a rollback without the network: resolve the
snapshot (`previous` or an id), refuse a foreign one, verify every blob against its hash, and
find the manifest target it belongs to. (`previous` may need one read of the live agent, when
the newest run was killed: see `kbctl.snapshots.history`.) Only then does `plan_rollback` read
the live state and plan toward the snapshot with the ordinary planner. Applying the plan is the
executor's job, unchanged (the CLI passes the same guards, progress and snapshot hook as
`kbctl apply`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kbctl.errors import SnapshotError
from kbctl.model import LiveAgent, LiveState, Target
from kbctl.observe import enrich
from kbctl.plan.planner import make_plan
from kbctl.plan.types import Plan
from kbctl.provider.base import Provider
from kbctl.snapshots.desired import check_restorable, rollback_target
from kbctl.snapshots.record import Snapshot
from kbctl.snapshots.store import SnapshotStore


@dataclass(frozen=True, slots=True)
class PreparedRollback:
    """A snapshot checked for a rollback: its verified contents and the manifest target."""

    snapshot: Snapshot
    contents: Mapping[str, bytes]
    base: Target


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    """The plan toward a snapshot, with what it was made from."""

    prepared: PreparedRollback
    desired: Target
    live: LiveState
    plan: Plan
    notes: tuple[str, ...]


def prepare_rollback(
    store: SnapshotStore,
    ref: str,
    environment: str,
    targets: Sequence[Target],
    *,
    live: Callable[[Target], LiveAgent | None] | None = None,
    written_by: Callable[[Target, str], str | None] | None = None,
) -> PreparedRollback:
    """Resolve and check the snapshot `ref` for a rollback of `environment`.

    No API call, except for `previous` (after the offline checks of the snapshot files): the
    agent read through `live` (did the newest run's PATCH land? did a run leave no record?)
    and its version's description through `written_by` (was that kbctl?).

    Raises:
        SnapshotError: unknown, corrupt, foreign or unrestorable snapshot; a blob missing or not
            matching its hash; no manifest target for the snapshot's project and agent.
    """
    projects = {t.project for t in targets}
    by_agent = {t.agent_id: t for t in targets}

    def live_agent(agent_id: str) -> LiveAgent | None:
        target = by_agent.get(agent_id)
        if live is None or target is None:
            return None
        return live(target)

    def version_writer(agent_id: str, version_id: str) -> str | None:
        target = by_agent.get(agent_id)
        if written_by is None or target is None:
            return None
        return written_by(target, version_id)

    snapshot = store.resolve(
        ref, environment, projects=projects, live=live_agent, written_by=version_writer
    )
    same_project = [t for t in targets if t.project == snapshot.project]
    if not same_project:
        raise SnapshotError(
            f"No manifest of project '{snapshot.project}' for environment '{environment}'",
            detail=f"Snapshot {snapshot.id} was written by {snapshot.manifest}.",
            hint="Pass that manifest with -f.",
        )
    base = next((t for t in same_project if t.agent_id == snapshot.agent.id), same_project[0])
    check_restorable(snapshot, base)
    contents = store.verify(snapshot)
    return PreparedRollback(snapshot, contents, base)


def plan_rollback(prepared: PreparedRollback, provider: Provider) -> RollbackPlan:
    """Read the live state and plan from it toward the snapshot (reads only)."""
    base = prepared.base
    live = provider.read_state(base.agent_id, base.project, base.environment)
    desired = rollback_target(prepared.snapshot, prepared.contents, base, live)
    live = enrich(desired.target, live, provider)  # index health and in-place edits
    plan = make_plan(base.environment, [(desired.target, live)])
    return RollbackPlan(prepared, desired.target, live, plan, desired.notes)
