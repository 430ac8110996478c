"""`kbctl snapshots list/show` as data rows and rich renderables.

Returns rows and renderables; never prints.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from kbctl.snapshots.catalog import SnapshotSummary
from kbctl.snapshots.record import Snapshot


def render_snapshot_list(listed: tuple[SnapshotSummary, ...]) -> Table:
    """The list as a table: id, time, kind, project, commit, documents, outcome."""
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("ID", "TIME", "KIND", "PROJECT", "COMMIT", "DOCS", "OUTCOME"):
        table.add_column(column, overflow="fold")
    for item in listed:
        row = snapshot_row(item)
        table.add_row(
            str(row["id"]),
            str(row["time"] or ""),
            f"{row['operation']}/{row['kind']}" if row["kind"] else "",
            str(row["project"] or ""),
            str(row["commit"] or "-")[:10],
            "?" if row["documents"] is None else str(row["documents"]),
            str(row["outcome"]),
        )
    return table


def snapshot_row(item: SnapshotSummary, folder: Path | None = None) -> dict[str, object]:
    """One row of `snapshots list --format json`; `file` is under `folder` when given."""
    path = str(folder / item.file) if folder is not None else item.file
    if item.error is not None:
        return {
            "id": item.id,
            "file": path,
            "time": None,
            "kind": None,
            "operation": None,
            "project": None,
            "commit": None,
            "documents": None,
            "outcome": f"unreadable: {item.error}",
            "base": item.base,
        }
    return {
        "id": item.id,
        "file": path,
        "time": item.created_at,
        "kind": item.kind,
        "operation": item.operation,
        "project": item.project,
        "commit": item.git_commit,
        "documents": item.documents,
        "outcome": item.outcome,
        "base": item.base,
    }


def render_snapshot(snapshot: Snapshot, restorable: str) -> Table:
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
