"""`apply` and `rollback` as functions: plan (or a saved plan, or a snapshot) → gated apply.

Both share one sequence (`_carry_out`): open a provider per agent, read the live state, make the
plan, show it to the progress sink, confirm, then hand each agent's plan to the executor with
the snapshot hook wired in, inside the stop signal's graceful block. Never prints, prompts or
exits: the session's `progress` and `confirm` do that for the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from kbctl.apply import ApplyOptions, ApplyResult, apply_agent_plan
from kbctl.apply.saved import check_saved_plan
from kbctl.apply.staging import refuse_live_rollout
from kbctl.apply.types import DEFAULT_CONCURRENCY, ApplyHook, NullHook
from kbctl.commands.notifying import notifying
from kbctl.commands.planning import check_scope
from kbctl.commands.session import ProviderHandle, Session, load_targets, progress_of
from kbctl.errors import PlanFileError, UsageError
from kbctl.model import LiveAgent, LiveState, ProviderKind, Target
from kbctl.observe import observe
from kbctl.plan.planfile import loads
from kbctl.plan.scope import make_scoped_plan
from kbctl.plan.types import Plan, Scope
from kbctl.snapshots.hook import SnapshotHook
from kbctl.snapshots.record import Snapshot
from kbctl.snapshots.rollback import plan_rollback, prepare_rollback
from kbctl.snapshots.store import SnapshotStore
from kbctl.wording import Wording, common, counted, no_changes, wording


@dataclass(frozen=True, slots=True)
class ApplyRun:
    """What an apply (or rollback) did.

    Attributes:
        plan: the plan carried out (the saved one, or made now).
        results: one per agent that had changes, in order.
        snapshots: ids of the "after" snapshots written.
        seconds: time from the confirmation to the end (the prompt's wait excluded).
        cancelled: the confirmation was declined; nothing was done.
    """

    plan: Plan
    results: tuple[ApplyResult, ...] = ()
    snapshots: tuple[str, ...] = ()
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def summary(self) -> str:
        """Counts over every agent of the run: `2 created, 1 replaced, 3 deleted, 1 kept`."""
        return run_summary(self.plan, self.results)


def apply(
    session: Session,
    environment: str,
    files: Sequence[str | Path] = (),
    *,
    plan_file: str | Path | None = None,
    auto_approve: bool = False,
    allow_destroy: bool = False,
    concurrency: int | None = DEFAULT_CONCURRENCY,
    scope: Scope | None = None,
) -> ApplyRun:
    """Make the live knowledge bases match the manifests (DESIGN §5), or exactly a saved plan.

    Raises the `KbctlError` tree: `StalePlanError` (a saved plan no longer matches),
    `PolicyError`, `IndexGateError`, `ConcurrentChangeError`, `ApplyError`, `UsageError`
    (no way to confirm), `InterruptedRunError` (a signal, at a safe point).
    """
    with notifying(session, environment, files, "apply"):
        return _apply(
            session,
            environment,
            files,
            plan_file=plan_file,
            auto_approve=auto_approve,
            allow_destroy=allow_destroy,
            concurrency=concurrency,
            scope=scope,
        )


def _apply(
    session: Session,
    environment: str,
    files: Sequence[str | Path],
    *,
    plan_file: str | Path | None,
    auto_approve: bool,
    allow_destroy: bool,
    concurrency: int | None,
    scope: Scope | None,
) -> ApplyRun:
    if plan_file is None and not auto_approve and session.confirm is None:
        raise UsageError(
            "Refusing to apply without confirmation",
            detail="There is no terminal to ask on, and neither --auto-approve nor a plan file "
            "was given.",
            hint=f"Pass --auto-approve, or save a plan and apply it: kbctl plan -e {environment} "
            f"--out plan.json && kbctl apply -e {environment} plan.json",
        )
    saved = _read_plan_file(session.path(plan_file)) if plan_file is not None else None
    targets = load_targets(session, files, environment)
    with ExitStack() as stack:
        handles: dict[tuple[str, str], tuple[Target, ProviderHandle]] = {}
        pairs: list[tuple[Target, LiveState]] = []
        for target in targets:
            handle = stack.enter_context(session.open(target, concurrency=concurrency))
            if target.rollout.staged:  # no second rollout beside a live canary
                refuse_live_rollout(
                    handle.branches, target.agent_id, target.project, target.environment
                )
            pairs.append((target, observe(target, handle.provider)))
            handles[(target.project, target.agent_id)] = (target, handle)
        scope = _scope_of(saved, scope)
        fresh = make_scoped_plan(environment, pairs, scope)
        check_scope(scope, targets, fresh)
        made = check_saved_plan(saved, fresh) if saved is not None else fresh
        progress_of(session).plan_ready(made, saved=saved is not None)
        if not made.has_work:
            progress_of(session).note(no_changes(common(a.provider for a in made.agents)))
            return ApplyRun(made)
        if saved is None and not auto_approve and not _confirmed(session, "Apply these changes?"):
            return ApplyRun(made, cancelled=True)

        def hook_for(handle: ProviderHandle) -> ApplyHook:
            if session.snapshots_dir is None:
                return NullHook()  # a Python caller that keeps no snapshots
            return SnapshotHook(
                _store(session), session.clock, handle.provider, git_commit=session.git_commit
            )

        # Planned just now, in this process: the executor re-reads only the agent, not the
        # whole listing; a saved plan gets the full fingerprint check.
        observed = {(t.project, t.agent_id): live for t, live in pairs} if saved is None else {}
        return _carry_out(
            session,
            made,
            handles,
            hook_for,
            allow_destroy,
            concurrency,
            "Apply complete",
            observed,
        )


def rollback(
    session: Session,
    environment: str,
    ref: str,
    files: Sequence[str | Path] = (),
    *,
    auto_approve: bool = False,
    allow_destroy: bool = False,
    concurrency: int | None = DEFAULT_CONCURRENCY,
) -> ApplyRun:
    """Make the agent's knowledge base what snapshot `ref` (an id or `previous`) recorded.

    The snapshot is checked offline first (a corrupt, missing or foreign one is refused before
    any request), becomes the desired state, and goes through the same plan and gated apply.
    A failure is posted to the manifests' `notify:` webhook, as an apply's is.
    """
    with notifying(session, environment, files, "rollback"):
        return _rollback(
            session,
            environment,
            ref,
            files,
            auto_approve=auto_approve,
            allow_destroy=allow_destroy,
            concurrency=concurrency,
        )


def _rollback(
    session: Session,
    environment: str,
    ref: str,
    files: Sequence[str | Path],
    *,
    auto_approve: bool,
    allow_destroy: bool,
    concurrency: int | None,
) -> ApplyRun:
    if not auto_approve and session.confirm is None:
        raise UsageError(
            "Refusing to roll back without confirmation",
            detail="There is no terminal to ask on, and --auto-approve was not given.",
            hint=f"Review it first, then: kbctl rollback -e {environment} --to {ref} "
            "--auto-approve",
        )
    store = _store(session)
    targets = load_targets(session, files, environment)
    for staged in (t for t in targets if t.rollout.staged and t.provider.value == "elevenlabs"):
        with session.open(staged, concurrency=concurrency) as handle:  # not beside a canary
            refuse_live_rollout(
                handle.branches, staged.agent_id, staged.project, staged.environment
            )

    def live_agent(target: Target) -> LiveAgent:
        with session.open(target, concurrency=concurrency) as reading:
            return reading.provider.get_agent(target.agent_id)

    def written_by(target: Target, version_id: str) -> str | None:
        with session.open(target, concurrency=concurrency) as reading:
            return reading.provider.version_description(target.agent_id, version_id)

    prepared = prepare_rollback(
        store, ref, environment, targets, live=live_agent, written_by=written_by
    )
    snapshot = prepared.snapshot
    progress = progress_of(session)
    with session.open(prepared.base, concurrency=concurrency) as handle:
        planned = plan_rollback(prepared, handle.provider)
        words = wording(prepared.base.provider)
        progress.note(_rollback_header(snapshot, environment, words))
        progress.note("Documents kbctl does not manage are left as they are now.")
        for note in planned.notes:
            progress.note(f"Note: {note}")
        progress.plan_ready(planned.plan, saved=False)
        if not planned.plan.has_work:
            progress.note(f"No changes: {words.the} already matches snapshot {snapshot.id}.")
            return ApplyRun(planned.plan)
        if not auto_approve and not _confirmed(session, "Roll back to this snapshot?"):
            return ApplyRun(planned.plan, cancelled=True)
        agent = planned.plan.agents[0]
        handles = {(agent.project, agent.agent_id): (planned.desired, handle)}

        def hook_for(h: ProviderHandle) -> ApplyHook:
            return SnapshotHook(
                store,
                session.clock,
                h.provider,
                git_commit=session.git_commit,
                operation="rollback",
                rollback_of=snapshot.id,
            )

        run = _carry_out(
            session,
            planned.plan,
            handles,
            hook_for,
            allow_destroy,
            concurrency,
            "Rollback complete",
            {(agent.project, agent.agent_id): planned.live},  # planned just now: no re-listing
        )
        progress.note(
            f"`kbctl plan -e {environment}` now shows the way back to the manifest; "
            "nothing re-applies it by itself."
        )
        return run


def _carry_out(
    session: Session,
    made: Plan,
    handles: dict[tuple[str, str], tuple[Target, ProviderHandle]],
    hook_for: Callable[[ProviderHandle], ApplyHook],
    allow_destroy: bool,
    concurrency: int | None,
    title: str,
    observed: dict[tuple[str, str], LiveState] | None = None,
) -> ApplyRun:
    """Apply every agent plan with changes, in order; stop at the first that fails."""
    progress = progress_of(session)
    clock = session.clock
    started = clock.monotonic()
    options = ApplyOptions(
        allow_destroy=allow_destroy,
        concurrency=concurrency,
        stop=session.stop,
        commit=session.git_commit,  # names the run in its lease and the agent version
    )
    results: list[ApplyResult] = []
    snapshots: list[str] = []
    with session.stop.graceful():
        for agent_plan in made.agents:
            target, handle = handles[(agent_plan.project, agent_plan.agent_id)]
            if not agent_plan.has_work:
                progress.note(f"{agent_plan.words.label(agent_plan.agent_id)}: no changes")
                continue
            hook = hook_for(handle)
            result = apply_agent_plan(
                agent_plan,
                target,
                handle.provider,
                clock,
                events=progress.apply_events(),
                options=options,
                hook=hook,
                agents=handle.branches if handle.has_agent else None,
                observed=(observed or {}).get((agent_plan.project, agent_plan.agent_id)),
            )
            results.append(result)
            after = hook.after_snapshot if isinstance(hook, SnapshotHook) else None
            if after is not None:
                snapshots.append(after.id)
                word = title.split()[0].lower()
                progress.note(f"Snapshot {after.id} records the state after the {word}.")
    run = ApplyRun(made, tuple(results), tuple(snapshots), clock.monotonic() - started)
    progress.run_finished(title, run.summary, run.seconds)
    return run


def run_summary(made: Plan, results: Sequence[ApplyResult]) -> str:
    """Counts over every agent of the run: `2 created, 1 replaced, 3 deleted, 1 kept`."""
    s = made.summary
    deleted = sum(len(r.deleted) for r in results)
    kept = sum(len(r.kept) for r in results)
    parts = [
        f"{n} {word}"
        for n, word in (
            (s.create, "created"),
            (s.replace, "replaced"),
            (s.update, "updated"),
            (deleted, "deleted"),
            (kept, "kept"),
        )
        if n
    ]
    kinds = {a.agent_id: a.provider for a in made.agents}
    applied = [kinds.get(r.agent_id, ProviderKind.ELEVENLABS) for r in results]
    agents = f" on {counted(applied)}" if len(results) > 1 else ""
    reports = [
        report
        for r in results
        if (report := r.checks if r.checks is not None else r.checks_before_swap) is not None
    ]
    checks = ""
    if reports:
        passed, total = sum(c.passed for c in reports), sum(c.total for c in reports)
        checks = f" (retrieval checks: {passed}/{total} passed)"
    return (", ".join(parts) or "indexes refreshed") + agents + checks


def _scope_of(saved: Plan | None, given: Scope | None) -> Scope:
    """The saved plan's scope (it is what was reviewed), else the one given, else everything."""
    if saved is None:
        return given or Scope()
    if given is not None and given != Scope() and given != saved.scope:
        raise UsageError(
            "--target and --replace cannot change a saved plan",
            detail="A saved plan is applied exactly as it was made, with the targets it was "
            "made for.",
            hint="Apply the plan file without those flags, or make a new plan with them.",
        )
    return saved.scope


def _confirmed(session: Session, question: str) -> bool:
    return session.confirm is not None and session.confirm(question)


def _store(session: Session) -> SnapshotStore:
    return SnapshotStore(session.snapshot_folder())


def _read_plan_file(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanFileError(
            f"Plan file {path.name} not found",
            hint="Make one with kbctl plan -e ENV --out PLAN.json.",
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise PlanFileError(f"Cannot read plan file {path.name}", detail=str(err)) from None
    return loads(text)


def _rollback_header(snapshot: Snapshot, environment: str, words: Wording) -> str:
    return (
        f"Rolling back {snapshot.project}/{environment} ({words.label(snapshot.agent.id)}) to "
        f"snapshot {snapshot.id}: {snapshot.kind.value} {snapshot.operation} of "
        f"{snapshot.created_at}, commit {(snapshot.git_commit or 'unknown')[:12]}."
    )
