"""`kbctl snapshots diff A B` as rich text: documents added, removed and changed (with their
content diffs, cut per document), then the RAG settings field by field. Never prints."""

from __future__ import annotations

from rich.text import Text

from kbctl.render.format import plural, rag_value
from kbctl.snapshots.compare import SnapshotDiff

__all__ = ["DIFF_LINES", "render_snapshot_diff"]

#: Content diff lines shown per document (`--format json` has them all).
DIFF_LINES = 40

_MARKS = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}


def render_snapshot_diff(result: SnapshotDiff) -> Text:
    a, b = result.a, result.b
    out = Text()
    out.append(f"Snapshot {a.id} ({a.created_at}) → {b.id} ({b.created_at})\n", style="bold")
    out.append(f"{b.project}/{b.environment}, agent {b.agent.id}\n")
    for note in result.notes:
        out.append(f"! {note}\n", style="yellow")
    if result.empty:
        out.append("\nNo differences: same documents, same settings.\n")
        return out
    out.append("\n")
    for delta in result.documents:
        mark, style = _MARKS[delta.change]
        entry = delta.after or delta.before
        assert entry is not None
        out.append(f"  {mark} ", style=style)
        out.append(delta.key, style=style)
        if delta.change == "changed":
            details = "; ".join(f"{f}: {x or '∅'} → {y or '∅'}" for f, x, y in delta.fields)
        else:
            size = f", {entry.size_bytes} B" if entry.size_bytes is not None else ""
            details = f"{entry.doc_type.value}, {entry.usage_mode.value}{size}, {entry.id}"
        out.append(f"  {delta.change}  {details}\n")
        if delta.diff:
            lines = delta.diff.splitlines()
            for line in lines[:DIFF_LINES]:
                out.append("      ")
                out.append(line + "\n", style=_style(line))
            if len(lines) > DIFF_LINES:
                more = plural(len(lines) - DIFF_LINES, "more diff line")
                out.append(f"      … {more} hidden (see --format json)\n", style="dim")
    for field, before, after in result.settings:
        out.append("  ~ ", style="yellow")
        out.append(f"rag.{field}: {rag_value(before)} → {rag_value(after)}\n")
    counts = {c: sum(1 for d in result.documents if d.change == c) for c in _MARKS}
    out.append(
        f"\n{counts['added']} added, {counts['removed']} removed, {counts['changed']} changed; "
        f"{plural(len(result.settings), 'setting')} changed.\n",
        style="bold",
    )
    return out


def _style(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("@@"):
        return "cyan"
    return {"+": "green", "-": "red"}.get(line[:1], "")
