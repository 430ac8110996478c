"""`kbctl apply`: make the live knowledge bases match the manifests (DESIGN.md §5).

Thin: flags → `kbctl.commands.apply` with a session whose progress is the CLI's run view.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kbctl import commands
from kbctl.cli import wiring
from kbctl.cli.cmd_snapshots import snapshots_dir_option
from kbctl.cli.context import app_context
from kbctl.cli.options import (
    environment_option,
    gated_apply_options,
    manifest_option,
    scope_options,
)
from kbctl.cli.runview import RunView
from kbctl.errors import ExitCode
from kbctl.plan.types import Scope


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
@scope_options
@snapshots_dir_option
def apply_cmd(
    environment: str,
    files: tuple[str, ...],
    plan_file: Path | None,
    auto_approve: bool,
    allow_destroy: bool,
    concurrency: int | None,
    as_json: bool,
    snapshots_dir: str,
    target_keys: tuple[str, ...],
    replace_keys: tuple[str, ...],
    replace_all: bool,
) -> None:
    """Create and index new documents, swap them into the agent, then delete the old ones.

    \b
    With PLAN.json (from `kbctl plan --out`), apply exactly that plan; it is refused (exit 4)
    when the live state or the manifests changed since. Without it, plan now and ask for
    confirmation (on a TTY) or require --auto-approve.
    Each agent's run writes a "before" and an "after" snapshot under --snapshots-dir.
    Exit codes: 3 stopped at the index gate (agent unchanged), 4 stale plan or the agent changed
    during apply, 5 refused by policy without --allow-destroy, 130/143 stopped by SIGINT/SIGTERM.
    """
    app_context().json_events = as_json
    session = wiring.session(ask=True, snapshots_dir=snapshots_dir, with_commit=True)
    width = wiring.text_width(stderr=as_json)
    with RunView(
        session.clock, sys.stdout, as_json=as_json, tty=sys.stdout.isatty(), width=width
    ) as view:
        session.progress = view
        run = commands.apply(
            session,
            environment,
            files,
            plan_file=plan_file,
            auto_approve=auto_approve,
            allow_destroy=allow_destroy,
            concurrency=concurrency,
            scope=Scope(target_keys, replace_keys, replace_all),
        )
    if run.cancelled:
        click.echo("Apply cancelled.", err=True)
        raise click.exceptions.Exit(int(ExitCode.ERROR))
