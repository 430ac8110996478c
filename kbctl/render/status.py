"""`kbctl status` as rich renderables: per agent, its documents, index status, quota and drift.

Returns renderables; never prints.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kbctl.plan.units import format_size
from kbctl.status import AgentStatus


def render_status(status: AgentStatus) -> RenderableType:
    """One agent's status as rich renderables."""
    named = f" ({status.agent_name})" if status.agent_name else ""
    if status.vector_store and status.agent_name == status.agent_id:
        named = ""  # a store kbctl knows by name: the name is its id here
    title = Text.assemble(
        (f"{status.project}/{status.environment}", "bold"),
        f"  {status.words.label(status.agent_id)}",
        named,
        f"  version {status.version_id}" if status.version_id else "",
    )
    rag = "" if status.vector_store else f"RAG {'on' if status.rag_enabled else 'off'}, "
    lines: list[RenderableType] = [title, Text(f"{rag}embedding model {status.embedding_model}")]
    if status.documents:
        table = Table(box=None, pad_edge=False, show_edge=False)
        for column in ("ID", "NAME", "TYPE", "SIZE", "USAGE", "INDEX", "MANAGED"):
            table.add_column(column, overflow="fold")
        for doc in status.documents:
            if doc.index is not None:
                index = doc.index_label or doc.index.value
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
    if status.rollout is not None:
        lines.append(Text(f"Rollout: {status.rollout}", style="bold yellow"))
    style = "green" if not status.has_changes else "yellow"
    lines.append(Text(status.drift_line, style=style))
    lines.append(Text(""))
    return Group(*lines)
