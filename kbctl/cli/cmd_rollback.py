"""`kbctl rollback -e ENV --to ID|previous`: take an agent back to a snapshot.

Thin, and the same path as `kbctl apply`: the snapshot is checked offline (a corrupt, missing or
foreign one is refused before any API call), becomes the desired state, is planned and shown,
confirmed (TTY) or `--auto-approve`d, and goes through the same index-gated executor, guards,
progress and snapshot hook.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import click
from rich.console import Console

from kbctl.apply import ApplyOptions, apply_agent_plan
from kbctl.cli.cmd_snapshots import snapshots_dir_option
from kbctl.cli.context import app_context
from kbctl.cli.options import environment_option, gated_apply_options, manifest_option
from kbctl.cli.progress import make_progress, run_summary
from kbctl.cli.wiring import load_targets, open_provider, system_clock
from kbctl.errors import ExitCode, UsageError
from kbctl.model import LiveAgent, Target
from kbctl.render.plan_text import render_plan_text
from kbctl.snapshots.gitinfo import current_commit
from kbctl.snapshots.hook import SnapshotHook
from kbctl.snapshots.rollback import plan_rollback, prepare_rollback
from kbctl.snapshots.store import SnapshotStore


@click.command("rollback")
@environment_option
@manifest_option
@click.option(
    "--to",
    "ref",
    required=True,
    metavar="ID|previous",
    help="Snapshot id, or `previous`: the state before the last apply that changed something.",
)
@click.option("--auto-approve", is_flag=True, help="Roll back without asking for confirmation.")
@gated_apply_options
@snapshots_dir_option
def rollback_cmd(
    environment: str,
    files: tuple[str, ...],
    ref: str,
    auto_approve: bool,
    allow_destroy: bool,
    concurrency: int,
    as_json: bool,
    snapshots_dir: str,
) -> None:
    """Make the agent's knowledge base what a snapshot recorded, through plan and gated apply.

    \b
    The snapshot's managed documents and RAG settings become the desired state: documents
    that still exist with the recorded content are swapped back without upload; deleted ones
    are re-created from the snapshot's blobs and indexed before the swap. Documents kbctl does
    not manage are left as they are. Afterwards `kbctl plan` shows the way back to the
    manifest; nothing re-applies it by itself.
    Exit codes as apply: 3 index gate, 4 the agent changed meanwhile, 5 refused by policy.
    """
    app_context().json_events = as_json
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not auto_approve and not interactive:
        raise UsageError(
            "Refusing to roll back without confirmation",
            detail="There is no terminal to ask on, and --auto-approve was not given.",
            hint=f"Review it first, then: kbctl rollback -e {environment} --to {ref} "
            "--auto-approve",
        )
    store = SnapshotStore(Path(snapshots_dir))
    targets = load_targets(files, environment)
    clock = system_clock()

    def live_agent(target: Target) -> LiveAgent:
        with open_provider(target, clock, concurrency=concurrency) as reading:
            return reading.provider.get_agent(target.agent_id)

    prepared = prepare_rollback(store, ref, environment, targets, live=live_agent)
    snapshot = prepared.snapshot
    started = clock.monotonic()
    console = Console(highlight=False, soft_wrap=True, stderr=as_json)
    with ExitStack() as stack:
        handle = stack.enter_context(open_provider(prepared.base, clock, concurrency=concurrency))
        planned = plan_rollback(prepared, handle.provider)
        console.print(
            f"Rolling back {snapshot.project}/{environment} (agent {snapshot.agent.id}) to "
            f"snapshot {snapshot.id}: {snapshot.kind.value} {snapshot.operation} of "
            f"{snapshot.created_at}, commit {(snapshot.git_commit or 'unknown')[:12]}."
        )
        console.print("Documents kbctl does not manage are left as they are now.", style="dim")
        for note in planned.notes:
            console.print(f"Note: {note}")
        console.print(render_plan_text(planned.plan))
        progress = make_progress(clock, sys.stdout, as_json=as_json, tty=sys.stdout.isatty())
        stack.enter_context(progress)
        agent_plan = planned.plan.agents[0]
        if not planned.plan.has_changes:
            progress.note(f"No changes: the agent already matches snapshot {snapshot.id}.")
            return
        if not auto_approve and not click.confirm(
            "Roll back to this snapshot?", default=False, err=True
        ):
            click.echo("Rollback cancelled.", err=True)
            raise click.exceptions.Exit(int(ExitCode.ERROR))
        hook = SnapshotHook(
            store,
            clock,
            handle.provider,
            git_commit=current_commit(),
            operation="rollback",
            rollback_of=snapshot.id,
        )
        result = apply_agent_plan(
            agent_plan,
            planned.desired,
            handle.provider,
            clock,
            events=hook.events(progress),
            options=ApplyOptions(allow_destroy=allow_destroy, concurrency=concurrency),
            hook=hook,
        )
        progress.run_finished(run_summary(planned.plan, [result]), clock.monotonic() - started)
        after = hook.after_snapshot
        if after is not None:
            progress.note(f"Snapshot {after.id} records the state after the rollback.")
        progress.note(
            f"`kbctl plan -e {environment}` now shows the way back to the manifest; "
            "nothing re-applies it by itself."
        )
