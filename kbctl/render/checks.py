"""`kbctl check` as rich renderables: per target, a table of queries and ranks, then coverage.

Returns renderables; never prints.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kbctl.checks import ChecksReport
from kbctl.model import Target
from kbctl.wording import wording


def render_checks(target: Target, agent_name: str, report: ChecksReport) -> RenderableType:
    """One target's checks: a table (query, expected, found at rank, result) and coverage."""
    title = Text.assemble(
        (f"{target.project}/{target.environment}", "bold"),
        f"  {wording(target.provider).label(target.agent_id)}",
        f" ({agent_name})" if agent_name and agent_name != target.agent_id else "",
    )
    if not report.results:
        return Group(title, Text("No retrieval checks declared."), Text(""))
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("#", "QUERY", "EXPECTED", "FOUND AT RANK", "TOP K", "RESULT"):
        table.add_column(column, overflow="fold")
    for n, result in enumerate(report.results, start=1):
        ranks = []
        for key, rank in result.ranks:
            if key in result.missing:
                ranks.append("not attached")
            else:
                ranks.append(str(rank) if rank is not None else "-")
        table.add_row(
            str(n),
            result.query,
            "\n".join(result.expect),
            "\n".join(ranks),
            str(result.top_k),
            Text("pass", style="green") if result.passed else Text("FAIL", style="bold red"),
        )
    lines: list[RenderableType] = [title, table]
    for n, result in enumerate(report.results, start=1):
        if result.expect_text is not None:
            where = (
                f"found in {result.text_in}"
                if result.text_in is not None
                else "NOT found in any retrieved text of an expected document"
            )
            style = "green" if result.text_in is not None else "yellow"
            lines.append(Text(f"  #{n} expect_text {result.expect_text!r}: {where}", style=style))
        if not result.passed:
            got = ", ".join(f.label for f in result.found) or "nothing"
            lines.append(Text(f"  #{n} retrieved instead: {got}", style="yellow"))
    if report.retriever_note:
        lines.append(Text(f"Note: {report.retriever_note}", style="yellow"))
    lines.append(Text(report.coverage_line(), style="green" if report.meets else "bold red"))
    lines.append(Text(""))
    return Group(*lines)
