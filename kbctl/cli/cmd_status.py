"""`kbctl status -e ENV`: the agent's documents, their index status, RAG quota use and drift.

Thin: `kbctl.status.collect_status` reads and compares; this module draws the report.
"""

from __future__ import annotations

import json

import click
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kbctl.cli.cmd_snapshots import wide_console
from kbctl.cli.options import environment_option, manifest_option, text_or_json_option
from kbctl.cli.wiring import load_targets, open_provider, system_clock
from kbctl.errors import ExitCode
from kbctl.plan.units import format_size
from kbctl.status import AgentStatus, collect_status, status_dict


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
    targets = load_targets(files, environment)
    clock = system_clock()
    reports: list[AgentStatus] = []
    for target in targets:
        with open_provider(target, clock, concurrency=concurrency) as handle:
            reports.append(collect_status(target, handle.provider, concurrency=concurrency))
    if fmt == "json":
        data = {"environment": environment, "agents": [status_dict(r) for r in reports]}
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        wide_console().print(Group(*(render_status(r) for r in reports)))
    if detailed_exitcode and any(r.has_changes for r in reports):
        raise click.exceptions.Exit(int(ExitCode.CHANGES))


def render_status(status: AgentStatus) -> RenderableType:
    """One agent's status as rich renderables."""
    title = Text.assemble(
        (f"{status.project}/{status.environment}", "bold"),
        f"  agent {status.agent_id}",
        f" ({status.agent_name})" if status.agent_name else "",
        f"  version {status.version_id}" if status.version_id else "",
    )
    rag = "on" if status.rag_enabled else "off"
    lines: list[RenderableType] = [
        title,
        Text(f"RAG {rag}, embedding model {status.embedding_model}"),
    ]
    if status.documents:
        table = Table(box=None, pad_edge=False, show_edge=False)
        for column in ("ID", "NAME", "TYPE", "SIZE", "USAGE", "INDEX", "MANAGED"):
            table.add_column(column, overflow="fold")
        for doc in status.documents:
            if doc.index is not None:
                index = doc.index.value
                if doc.index.in_flight:
                    index += f" {doc.index_progress:.0f}%"
            else:
                index = "-" if doc.attached else ""
            managed = ("managed" if doc.managed else "unmanaged") + (
                "" if doc.attached else " (orphan)"
            )
            table.add_row(
                doc.id,
                doc.key if doc.key is not None else doc.name,
                doc.doc_type.value,
                format_size(doc.size_bytes) if doc.size_bytes else "-",
                doc.usage_mode.value if doc.usage_mode is not None else "-",
                index,
                managed,
            )
        lines.append(table)
    else:
        lines.append(Text("No documents attached."))
    quota = status.quota
    if quota is not None:
        share = f" ({quota.used_bytes / quota.max_bytes:.0%})" if quota.max_bytes else ""
        limit = "an unknown limit" if quota.max_bytes is None else format_size(quota.max_bytes)
        lines.append(Text(f"RAG quota: {format_size(quota.used_bytes)} of {limit} used{share}"))
    style = "green" if not status.has_changes else "yellow"
    lines.append(Text(status.drift_line, style=style))
    lines.append(Text(""))
    return Group(*lines)
