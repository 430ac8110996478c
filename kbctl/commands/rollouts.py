"""`promote` and the canary side of `rollback`: finish or drop a branch rollout that runs as a
canary (`rollout: {strategy: branch, canary_percent: N}`).

A canary is the environment's kbctl branch answering part of the agent's traffic (see
`kbctl.apply.staging`). `promote` merges it into main (archiving it) and gives main all the
traffic; `drop_canary` gives main all the traffic back and archives the branch. Neither deletes
documents: the next `kbctl apply` deletes what main no longer uses (managed orphans), through
its guards.

Both change the live agent, so both hold the agent's apply lease (`kbctl.apply.lease`) like an
apply does: a run applying to the agent meanwhile makes them stop with exit 4, naming it. A
promote changes main's knowledge base, so it writes a "before" and an "after" snapshot
(operation `promote`) like an apply: `kbctl rollback --to previous` after a promote goes back to
main as it was before the merge. Never prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from kbctl.apply.lease import Lease, lease_owner, ttl_for
from kbctl.apply.staging import ALL_TRAFFIC, live_canary
from kbctl.apply.types import ApplyResult, Outcome
from kbctl.commands.session import ProviderHandle, Session, load_targets
from kbctl.errors import ApiError, ApplyError, KbctlError, UsageError
from kbctl.model import LiveState, ProviderKind, Target
from kbctl.observe import observe
from kbctl.plan.planner import plan_target
from kbctl.provider.base import BranchInfo
from kbctl.snapshots.hook import SnapshotHook
from kbctl.snapshots.store import SnapshotStore


@dataclass(frozen=True, slots=True)
class CanaryDone:
    """One canary finished (`promoted`) or dropped (`rolled_back`)."""

    project: str
    environment: str
    agent_id: str
    branch: str
    percent: float
    action: str
    version_id: str | None = None  # main's head after a promote
    snapshot: str | None = None  # the "after" snapshot a promote wrote


def canary_line(handle: ProviderHandle, target: Target) -> str | None:
    """`canary: branch kbctl/… answers 10% of the traffic …`, or None when none is live."""
    branch = live_canary(handle.branches, target.agent_id, target.project, target.environment)
    if branch is None:
        return None
    env = target.environment
    return (
        f"canary: branch {branch.name} answers {branch.live_percentage:g}% of the traffic; "
        f"`kbctl promote -e {env}` merges it, `kbctl rollback -e {env}` drops it"
    )


def promote(
    session: Session, environment: str, files: Sequence[str | Path] = ()
) -> tuple[CanaryDone, ...]:
    """Merge every live canary of `environment` into main and give main all the traffic,
    holding the agent's lease, between a "before" and an "after" snapshot.

    Raises:
        UsageError: no canary is live for the environment.
        ConcurrentChangeError: another run holds the agent's lease (exit 4; nothing changed).
        ApplyError: the merge or the deployment failed (the canary keeps running).
    """
    return _each(session, environment, files, "promoted")


def drop_canary(
    session: Session, environment: str, files: Sequence[str | Path] = ()
) -> tuple[CanaryDone, ...]:
    """Give main all the traffic back and archive every live canary of `environment`."""
    return _each(session, environment, files, "rolled_back")


def live_canaries(
    session: Session, environment: str, files: Sequence[str | Path] = ()
) -> tuple[tuple[Target, BranchInfo], ...]:
    """The targets of `environment` whose canary is live, with its branch."""
    found: list[tuple[Target, BranchInfo]] = []
    for target in load_targets(session, files, environment):
        if target.provider is not ProviderKind.ELEVENLABS:
            continue  # only agents have branches, so only they can run a canary
        with session.open(target) as handle:
            branch = live_canary(
                handle.branches, target.agent_id, target.project, target.environment
            )
        if branch is not None:
            found.append((target, branch))
    return tuple(found)


def _each(
    session: Session, environment: str, files: Sequence[str | Path], action: str
) -> tuple[CanaryDone, ...]:
    done: list[CanaryDone] = []
    for target, branch in live_canaries(session, environment, files):
        with session.open(target) as handle:
            done.append(_leased(session, handle, target, branch, action))
    if not done:
        raise UsageError(
            f"No canary rollout is live for {environment}",
            detail="No agent of this environment has a kbctl branch answering part of the "
            "traffic, so there is nothing to promote or drop; nothing was changed.",
            hint=f"`kbctl status -e {environment}` shows a rollout in progress; "
            "a canary starts with rollout: {strategy: branch, canary_percent: N}.",
        )
    return tuple(done)


def _leased(
    session: Session, handle: ProviderHandle, target: Target, branch: BranchInfo, action: str
) -> CanaryDone:
    """`_finish` under the agent's lease; a promote between its two snapshots."""
    live = observe(target, handle.provider, with_quota=False)
    plan = plan_target(target, live)  # main toward the manifest: what the canary brings
    owner = lease_owner(plan, None, session.git_commit)
    lease = Lease(handle.provider, session.clock, owner, ttl=ttl_for(plan))
    try:
        lease.acquire()
    except ApiError as err:
        raise ApplyError(
            f"Could not take the lease of agent {target.agent_id}: {err.summary}",
            detail=err.detail,
            hint="Nothing was changed; try again.",
        ) from err
    try:
        live = observe(target, handle.provider, with_quota=False)  # as it is, now ours alone
        hook = _hook(session, handle) if action == "promoted" else None
        if hook is not None:
            hook.before(target, live, plan)
        lease.confirm()
        try:
            done = _finish(handle, target, branch, action)
        except KbctlError as err:
            if hook is not None:
                failed = ApplyResult(target.agent_id, Outcome.FAILED, error=err.summary)
                hook.after(target, plan, failed, _read_after(handle, target))
            raise
        if hook is None:
            return done
        result = ApplyResult(
            target.agent_id,
            Outcome.APPLIED,
            version_id=done.version_id,
            agent_updated=True,
            branch=branch.name,
        )
        hook.after(target, plan, result, _read_after(handle, target))
        after = hook.after_snapshot
        return replace(done, snapshot=after.id if after is not None else None)
    finally:
        lease.release()


def _hook(session: Session, handle: ProviderHandle) -> SnapshotHook | None:
    if session.snapshots_dir is None:
        return None  # a Python caller that keeps no snapshots
    store = SnapshotStore(session.snapshot_folder())
    return SnapshotHook(
        store, session.clock, handle.provider, git_commit=session.git_commit, operation="promote"
    )


def _read_after(handle: ProviderHandle, target: Target) -> LiveState | None:
    """The agent after the promote, for the "after" snapshot (None: it could not be read)."""
    try:
        return handle.provider.read_state(
            target.agent_id, target.project, target.environment, with_quota=False
        )
    except ApiError:
        return None


def _finish(handle: ProviderHandle, target: Target, branch: BranchInfo, action: str) -> CanaryDone:
    api, agent_id = handle.branches, target.agent_id
    try:
        main = handle.provider.get_agent(agent_id)
        if main.branch_id is None:
            raise ApplyError(f"The API did not say which branch is main for agent {agent_id}")
        version = None
        if action == "promoted":
            version = api.merge(agent_id, branch.id, main.branch_id).version_id
        # Main answers everything (a merge that archives may already have moved the traffic).
        if any(b.id != main.branch_id and b.live_percentage > 0 for b in api.branches(agent_id)):
            api.deploy(agent_id, {main.branch_id: ALL_TRAFFIC})
        if action != "promoted":
            api.archive_branch(agent_id, branch.id)
    except ApiError as err:
        word = "promoting" if action == "promoted" else "rolling back"
        raise ApplyError(
            f"Failed while {word} the canary {branch.name} of agent {agent_id}: {err.summary}",
            detail=err.detail,
            hint=f"Run kbctl status -e {target.environment} to see where it stands, then try "
            "again.",
        ) from err
    return CanaryDone(
        target.project,
        target.environment,
        agent_id,
        branch.name,
        branch.live_percentage,
        action,
        version,
    )
