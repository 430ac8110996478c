"""`kbctl apply`: make the live knowledge bases match the manifests (DESIGN.md §5).

Thin: reads the manifests and the live state, makes the plan (or checks a saved one), asks for
confirmation on a TTY, then hands each agent's plan to `kbctl.apply.apply_agent_plan` with the
progress drawing of `kbctl.cli.progress`.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import click
from rich.console import Console

from kbctl.apply import ApplyOptions, ApplyResult, apply_agent_plan
from kbctl.apply.saved import check_saved_plan
from kbctl.cli.cmd_snapshots import snapshots_dir_option
from kbctl.cli.context import app_context
from kbctl.cli.options import environment_option, gated_apply_options, manifest_option
from kbctl.cli.progress import make_progress, run_summary
from kbctl.cli.wiring import ProviderHandle, load_targets, open_provider, system_clock
from kbctl.errors import ExitCode, UsageError
from kbctl.model import LiveState, Target
from kbctl.observe import observe
from kbctl.plan.planfile import loads
from kbctl.plan.planner import make_plan
from kbctl.render.plan_text import render_plan_text
from kbctl.snapshots.gitinfo import current_commit
from kbctl.snapshots.hook import SnapshotHook
from kbctl.snapshots.store import SnapshotStore


@click.command("apply")
@environment_option
@manifest_option
@click.argument(
    "plan_file",
    metavar="[PLAN.json]",
    required=False,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@gated_apply_options
@snapshots_dir_option
def apply_cmd(
    environment: str,
    files: tuple[str, ...],
    plan_file: Path | None,
    auto_approve: bool,
    allow_destroy: bool,
    concurrency: int,
    as_json: bool,
    snapshots_dir: str,
) -> None:
    """Create and index new documents, swap them into the agent, then delete the old ones.

    \b
    With PLAN.json (from `kbctl plan --out`), apply exactly that plan; it is refused (exit 4)
    when the live state or the manifests changed since. Without it, plan now and ask for
    confirmation (on a TTY) or require --auto-approve.
    Each agent's run writes a "before" and an "after" snapshot under --snapshots-dir.
    Exit codes: 3 stopped at the index gate (agent unchanged), 4 stale plan or the agent changed
    during apply, 5 refused by policy without --allow-destroy.
    """
    app_context().json_events = as_json
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if plan_file is None and not auto_approve and not interactive:
        raise UsageError(
            "Refusing to apply without confirmation",
            detail="There is no terminal to ask on, and neither --auto-approve nor a plan file "
            "was given.",
            hint=f"Pass --auto-approve, or save a plan and apply it: kbctl plan -e {environment} "
            f"--out plan.json && kbctl apply -e {environment} plan.json",
        )
    saved = loads(plan_file.read_text(encoding="utf-8")) if plan_file is not None else None
    targets = load_targets(files, environment)
    clock = system_clock()
    started = clock.monotonic()
    with ExitStack() as stack:
        opened: dict[tuple[str, str], tuple[Target, ProviderHandle]] = {}
        pairs: list[tuple[Target, LiveState]] = []
        for target in targets:
            handle = stack.enter_context(open_provider(target, clock, concurrency=concurrency))
            pairs.append((target, observe(target, handle.provider)))
            opened[(target.project, target.agent_id)] = (target, handle)
        fresh = make_plan(environment, pairs)
        plan = check_saved_plan(saved, fresh) if saved is not None else fresh
        if saved is None and not as_json:
            Console(highlight=False, soft_wrap=True).print(render_plan_text(plan))
        progress = make_progress(clock, sys.stdout, as_json=as_json, tty=sys.stdout.isatty())
        stack.enter_context(progress)  # stops a live view before an error is printed
        if not plan.has_work:
            progress.note("No changes. The knowledge base matches the manifest.")
            return
        if saved is None and not auto_approve:
            if as_json:
                Console(stderr=True, highlight=False).print(render_plan_text(plan))
            if not click.confirm("Apply these changes?", default=False, err=True):
                click.echo("Apply cancelled.", err=True)
                raise click.exceptions.Exit(int(ExitCode.ERROR))
        options = ApplyOptions(allow_destroy=allow_destroy, concurrency=concurrency)
        store = SnapshotStore(Path(snapshots_dir))
        commit = current_commit()
        results: list[ApplyResult] = []
        for agent_plan in plan.agents:
            target, handle = opened[(agent_plan.project, agent_plan.agent_id)]
            if not agent_plan.has_work:
                progress.note(f"agent {agent_plan.agent_id}: no changes")
                continue
            hook = SnapshotHook(store, clock, handle.provider, git_commit=commit)
            result = apply_agent_plan(
                agent_plan,
                target,
                handle.provider,
                clock,
                events=hook.events(progress),
                options=options,
                hook=hook,
            )
            results.append(result)
            after = hook.after_snapshot
            if after is not None:
                progress.note(f"snapshot {after.id} records the state after the apply")
        progress.run_finished(run_summary(plan, results), clock.monotonic() - started)
