"""`kbctl snapshots list -e ENV` and `kbctl snapshots show ID`: what apply recorded, read back.

Thin: the store finds and validates the files; this module only draws them. Also home of
`--snapshots-dir`, shared by every command that reads or writes snapshots.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console
from rich.table import Table

from kbctl.cli.options import environment_option, text_or_json_option
from kbctl.errors import SnapshotError
from kbctl.snapshots.record import Snapshot, dumps
from kbctl.snapshots.store import Listed, SnapshotStore

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


def wide_console() -> Console:
    """A console for tables: the terminal's width, or 200 columns in logs (no truncated ids)."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 200
    return console


@click.group("snapshots")
def snapshots_group() -> None:
    """List and show the snapshots apply and rollback write."""


@snapshots_group.command("list")
@environment_option
@snapshots_dir_option
@text_or_json_option
def list_cmd(environment: str, snapshots_dir: str, fmt: str) -> None:
    """The snapshots of one environment, newest first."""
    listed = SnapshotStore(Path(snapshots_dir)).list(environment)
    if fmt == "json":
        click.echo(json.dumps([_list_row(item) for item in listed], indent=2, sort_keys=True))
        return
    if not listed:
        click.echo(f"No snapshots for environment '{environment}' in {snapshots_dir}.")
        return
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("ID", "TIME", "KIND", "PROJECT", "COMMIT", "DOCS", "OUTCOME"):
        table.add_column(column, overflow="fold")
    for item in listed:
        row = _list_row(item)
        table.add_row(
            str(row["id"]),
            str(row["time"] or ""),
            f"{row['operation']}/{row['kind']}" if row["kind"] else "",
            str(row["project"] or ""),
            str(row["commit"] or "-")[:10],
            "?" if row["documents"] is None else str(row["documents"]),
            str(row["outcome"]),
        )
    wide_console().print(table)


def _list_row(item: Listed) -> dict[str, object]:
    snapshot = item.snapshot
    if snapshot is None:
        stem = item.path.name[:-5]
        return {
            "id": stem.rsplit("-", 1)[-1],
            "file": str(item.path),
            "time": None,
            "kind": None,
            "operation": None,
            "project": None,
            "commit": None,
            "documents": None,
            "outcome": f"unreadable: {item.error}",
        }
    kb = snapshot.knowledge_base
    return {
        "id": snapshot.id,
        "file": str(item.path),
        "time": snapshot.created_at,
        "kind": snapshot.kind.value,
        "operation": snapshot.operation,
        "project": snapshot.project,
        "commit": snapshot.git_commit,
        "documents": None if kb is None else len(kb),
        "outcome": snapshot.outcome,
    }


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
    store = SnapshotStore(Path(snapshots_dir))
    snapshot = store.load(snapshot_id)
    if fmt == "json":
        click.echo(dumps(snapshot), nl=False)
        return
    try:
        store.verify(snapshot)
        restorable = "yes: every managed document's content is stored and verified"
    except SnapshotError as err:
        restorable = f"no: {err.summary}"
    wide_console().print(_show_text(snapshot, restorable))


def _show_text(snapshot: Snapshot, restorable: str) -> Table:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    rows = [
        ("Snapshot", f"{snapshot.id} ({snapshot.operation} {snapshot.kind.value})"),
        ("Time", snapshot.created_at),
        ("Environment", snapshot.environment),
        ("Project", f"{snapshot.project} ({snapshot.manifest})"),
        ("Agent", f"{snapshot.agent.id} version {snapshot.agent.version_id or '-'}"),
        ("Commit", snapshot.git_commit or "-"),
        ("Outcome", snapshot.outcome),
        ("Apply", snapshot.apply_id),
    ]
    if snapshot.rollback_of:
        rows.append(("Rollback of", snapshot.rollback_of))
    rag = ", ".join(f"{k}={v}" for k, v in snapshot.rag.items()) or "-"
    rows.append(("RAG", rag))
    done = snapshot.done
    rows.append(
        (
            "Done",
            f"{len(done.created)} created, {len(done.reused)} reused, {len(done.deleted)} "
            f"deleted, {len(done.kept)} kept, agent "
            + ("updated" if done.agent_updated else "unchanged"),
        )
    )
    rows.append(("Restorable", restorable))
    for label, value in rows:
        head.add_row(label, value)
    outer = Table.grid()
    outer.add_row(head)
    outer.add_row("")
    if snapshot.knowledge_base is None:
        outer.add_row("Knowledge base: unknown (the state could not be read).")
    else:
        docs = Table(box=None, pad_edge=False, show_edge=False)
        for column in ("ID", "KEY / NAME", "TYPE", "USAGE", "HASH", "MANAGED"):
            docs.add_column(column)
        for entry in snapshot.knowledge_base:
            docs.add_row(
                entry.id,
                entry.key if entry.key is not None else entry.name,
                entry.doc_type.value,
                entry.usage_mode.value,
                (entry.content_hash or "-")[:12],
                "yes" if entry.managed else "no",
            )
        outer.add_row(f"Knowledge base ({len(snapshot.knowledge_base)} documents):")
        outer.add_row(docs)
    for note in snapshot.notes:
        outer.add_row(f"Note: {note}")
    return outer
