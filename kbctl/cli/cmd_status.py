"""`kbctl status -e ENV`: the agent's documents, their index status, RAG quota use and drift.

Thin: `kbctl.commands.status` reads and compares; `kbctl.render.status` draws.
"""

from __future__ import annotations

import json

import click
from rich.console import Group

from kbctl import commands
from kbctl.cli import wiring
from kbctl.cli.options import environment_option, manifest_option, text_or_json_option
from kbctl.errors import ExitCode
from kbctl.render.console import show
from kbctl.render.status import render_status
from kbctl.status import status_dict


@click.command("status")
@environment_option
@manifest_option
@text_or_json_option
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when the agent matches the manifest, 2 when it drifted (1 on error).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Index reads in flight at once.",
)
def status_cmd(
    environment: str, files: tuple[str, ...], fmt: str, detailed_exitcode: bool, concurrency: int
) -> None:
    """Show the live documents, their RAG index status, quota use and drift from the manifest."""
    reports = commands.status(wiring.session(), environment, files, concurrency=concurrency)
    if fmt == "json":
        data = {"environment": environment, "agents": [status_dict(r) for r in reports]}
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        show(Group(*(render_status(r) for r in reports)))
    if detailed_exitcode and any(r.has_changes for r in reports):
        raise click.exceptions.Exit(int(ExitCode.CHANGES))
