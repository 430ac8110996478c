"""`kbctl check -e ENV`: run the manifests' retrieval checks against the live agent's documents.

Thin: reads the live state (`kbctl.checks.live_documents` maps keys ↔ ids from kbctl's markers),
runs `kbctl.checks.run_checks` with the content-search retriever, draws the table, and exits 3
when a target's coverage is below its `min_coverage`.
"""

from __future__ import annotations

import json

import click
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kbctl.checks import ChecksReport, SearchRetriever, live_documents, report_to_dict, run_checks
from kbctl.checks.gate import failure_lines, shortfall
from kbctl.cli.cmd_snapshots import wide_console
from kbctl.cli.options import environment_option, manifest_option, text_or_json_option
from kbctl.cli.wiring import load_targets, open_provider, system_clock
from kbctl.errors import ChecksFailedError
from kbctl.model import Target


@click.command("check")
@environment_option
@manifest_option
@text_or_json_option
def check_cmd(environment: str, files: tuple[str, ...], fmt: str) -> None:
    """Run the retrieval checks against the documents the live agent has.

    \b
    Each check's query goes to the knowledge-base content search; the results are restricted
    to the agent's documents. A check passes when every expected document is within its top_k.
    Prints each check with the rank its documents were found at, then Coverage@1 and Coverage@k.
    Exit 3 when coverage is below checks_policy.min_coverage.
    """
    targets = load_targets(files, environment)
    clock = system_clock()
    reports: list[tuple[Target, str, ChecksReport]] = []
    for target in targets:
        if not target.checks:
            reports.append((target, "", ChecksReport((), target.checks_policy)))
            continue
        with open_provider(target, clock) as handle:
            live = handle.provider.read_state(
                target.agent_id, target.project, target.environment, with_quota=False
            )
            report = run_checks(
                target.checks,
                live_documents(live),
                SearchRetriever(handle.provider),
                policy=target.checks_policy,
            )
        reports.append((target, live.agent.name, report))
    if fmt == "json":
        data = {
            "environment": environment,
            "agents": [
                {
                    "manifest": t.manifest,
                    "project": t.project,
                    "agent_id": t.agent_id,
                    **report_to_dict(r),
                }
                for t, _, r in reports
            ],
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        wide_console().print(Group(*(render_checks(t, name, r) for t, name, r in reports)))
    short = [(t, r) for t, _, r in reports if not r.meets]
    if short:
        raise ChecksFailedError(
            f"Retrieval checks below min_coverage for {environment}",
            detail="\n".join(
                line
                for t, r in short
                for line in (f"{t.project}/{t.environment}: {shortfall(r)}", *failure_lines(r))
            ),
            hint="Make the expected documents say what the query asks (or fix the checks), "
            "apply, and run kbctl check again.",
        )


def render_checks(target: Target, agent_name: str, report: ChecksReport) -> RenderableType:
    """One target's checks: a table (query, expected, found at rank, result) and coverage."""
    title = Text.assemble(
        (f"{target.project}/{target.environment}", "bold"),
        f"  agent {target.agent_id}",
        f" ({agent_name})" if agent_name else "",
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
        if not result.passed:
            got = ", ".join(f.label for f in result.found) or "nothing"
            lines.append(Text(f"  #{n} retrieved instead: {got}", style="yellow"))
    lines.append(Text(report.coverage_line(), style="green" if report.meets else "bold red"))
    lines.append(Text(""))
    return Group(*lines)
