"""`kbctl rollback -e ENV --to ID|previous`: take an agent back to a snapshot; without `--to`
during a canary rollout, drop the canary.

Thin: flags → `kbctl.commands.rollback`, the same plan and gated apply as `kbctl apply`.
"""

from __future__ import annotations

import sys

import click

from kbctl import commands
from kbctl.cli import wiring
from kbctl.cli.cmd_snapshots import snapshots_dir_option
from kbctl.cli.context import app_context
from kbctl.cli.options import environment_option, gated_apply_options, manifest_option
from kbctl.cli.runview import RunView
from kbctl.errors import ExitCode, UsageError


@click.command("rollback")
@environment_option
@manifest_option
@click.option(
    "--to",
    "ref",
    metavar="ID|previous",
    help="Snapshot id, or `previous`: the state before the last apply that changed something. "
    "Without it, during a canary rollout: drop the canary (main gets all traffic back).",
)
@click.option("--auto-approve", is_flag=True, help="Roll back without asking for confirmation.")
@gated_apply_options
@snapshots_dir_option
def rollback_cmd(
    environment: str,
    files: tuple[str, ...],
    ref: str | None,
    auto_approve: bool,
    allow_destroy: bool,
    concurrency: int | None,
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
    session = wiring.session(ask=True, snapshots_dir=snapshots_dir, with_commit=True)
    if ref is None:
        if not commands.live_canaries(session, environment, files):
            raise UsageError(
                "Missing option '--to'",
                detail="No canary rollout is live, so there is nothing to roll back without a "
                "snapshot.",
                hint=f"kbctl rollback -e {environment} --to previous (or a snapshot id).",
            )
        for done in commands.drop_canary(session, environment, files):
            click.echo(
                f"{done.project}/{done.environment}: rolled back the canary {done.branch} "
                f"(was {done.percent:g}% of the traffic); main answers 100%, the branch is "
                "archived."
            )
        return
    width = wiring.text_width(stderr=as_json)
    with RunView(
        session.clock, sys.stdout, as_json=as_json, tty=sys.stdout.isatty(), width=width
    ) as view:
        session.progress = view
        run = commands.rollback(
            session,
            environment,
            ref,
            files,
            auto_approve=auto_approve,
            allow_destroy=allow_destroy,
            concurrency=concurrency,
        )
    if run.cancelled:
        click.echo("Rollback cancelled.", err=True)
        raise click.exceptions.Exit(int(ExitCode.ERROR))
