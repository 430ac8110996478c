"""`kbctl snapshots list -e ENV`, `kbctl snapshots show ID` and `kbctl snapshots diff A B`: what
apply recorded, read back.

Thin: `kbctl.commands` finds and validates the files; `kbctl.render.snapshots` draws them.
Also home of `--snapshots-dir`, shared by every command that reads or writes snapshots.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import click

from kbctl import commands
from kbctl.cli import wiring
from kbctl.cli.options import environment_option, text_or_json_option
from kbctl.render.console import show
from kbctl.render.snapshot_diff import render_snapshot_diff
from kbctl.render.snapshots import render_snapshot, render_snapshot_list, snapshot_row
from kbctl.snapshots.codec import dumps
from kbctl.snapshots.compare import diff_to_dict

F = TypeVar("F", bound=Callable[..., object])

DEFAULT_SNAPSHOTS_DIR = "state-snapshots"


def snapshots_dir_option(func: F) -> F:
    """`--snapshots-dir DIR` (default `state-snapshots`, relative to the current directory)."""
    return click.option(
        "--snapshots-dir",
        "snapshots_dir",
        type=click.Path(file_okay=False),
        default=DEFAULT_SNAPSHOTS_DIR,
        show_default=True,
        help="Folder of the snapshots (committed to git by the apply workflow).",
    )(func)


@click.group("snapshots")
def snapshots_group() -> None:
    """List, show and compare the snapshots apply and rollback write."""


@snapshots_group.command("list")
@environment_option
@snapshots_dir_option
@text_or_json_option
def list_cmd(environment: str, snapshots_dir: str, fmt: str) -> None:
    """The snapshots of one environment, newest first."""
    session = wiring.session(snapshots_dir=snapshots_dir)
    listed = commands.list_snapshots(session, environment)
    if fmt == "json":
        folder = session.snapshot_folder() / environment
        rows = [snapshot_row(item, folder) for item in listed]
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not listed:
        click.echo(f"No snapshots for environment '{environment}' in {snapshots_dir}.")
        return
    show(render_snapshot_list(listed))


@snapshots_group.command("show")
@click.argument("snapshot_id", metavar="ID")
@snapshots_dir_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format (json: the snapshot file itself).",
)
def show_cmd(snapshot_id: str, snapshots_dir: str, fmt: str) -> None:
    """One snapshot: the agent, its knowledge base, RAG settings and outcome."""
    shown = commands.show_snapshot(wiring.session(snapshots_dir=snapshots_dir), snapshot_id)
    if fmt == "json":
        click.echo(dumps(shown.snapshot), nl=False)
        return
    restorable = (
        "yes: every managed document's content is stored and verified"
        if shown.restorable
        else f"no: {shown.why_not}"
    )
    show(render_snapshot(shown.snapshot, restorable))


@snapshots_group.command("diff")
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@snapshots_dir_option
@text_or_json_option
@click.option("--no-diff", "no_diff", is_flag=True, help="Do not show content diffs.")
def diff_cmd(first: str, second: str, snapshots_dir: str, fmt: str, no_diff: bool) -> None:
    """What changed from snapshot A to snapshot B: documents added, removed and changed (text
    documents with a content diff from the stored blobs) and RAG settings.

    \b
    "What did the last apply do": kbctl snapshots list -e ENV, then diff its "before" and
    "after" snapshots (same apply id).
    """
    session = wiring.session(snapshots_dir=snapshots_dir)
    result = commands.diff_snapshots(session, first, second, content=not no_diff)
    if fmt == "json":
        click.echo(json.dumps(diff_to_dict(result), indent=2, sort_keys=True, ensure_ascii=False))
        return
    show(render_snapshot_diff(result))
