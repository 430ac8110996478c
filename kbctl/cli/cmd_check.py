"""`kbctl check -e ENV`: run the manifests' retrieval checks against the live agent's documents.

Thin: `kbctl.commands.check` runs them, `kbctl.render.checks` draws them, and
`kbctl.commands.check_verdict` decides the exit-3 error.
"""

from __future__ import annotations

import json

import click
from rich.console import Group

from kbctl import commands
from kbctl.checks import RetrieverChoice, report_to_dict
from kbctl.cli import wiring
from kbctl.cli.options import environment_option, manifest_option, text_or_json_option
from kbctl.render.checks import render_checks
from kbctl.render.console import show


@click.command("check")
@environment_option
@manifest_option
@text_or_json_option
@click.option(
    "--retriever",
    type=click.Choice([c.value for c in RetrieverChoice]),
    default=RetrieverChoice.AUTO.value,
    show_default=True,
    help="rag-query: the agent's own retrieval; search: the knowledge-base content search; "
    "auto: rag-query, falling back to search (with a note) where the API lacks it.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 3 below any threshold of checks_policy (min_coverage_at_1 too), not only "
    "below min_coverage.",
)
def check_cmd(
    environment: str, files: tuple[str, ...], fmt: str, retriever: str, detailed_exitcode: bool
) -> None:
    """Run the retrieval checks against the documents the live agent has.

    \b
    Each check's query goes to the agent's own retrieval (rag-query) or to the knowledge-base
    content search (--retriever). A check passes when every expected document is within its
    top_k (and, with expect_text, a retrieved chunk of one of them contains that text).
    Prints each check with the rank its documents were found at, then Coverage@1 and
    Coverage@k, and which retriever produced them.
    Exit 3 when coverage is below checks_policy.min_coverage; with --detailed-exitcode, below
    any threshold (min_coverage_at_1 too).
    """
    session = wiring.session()
    runs = commands.check(session, environment, files, retriever=RetrieverChoice(retriever))
    if fmt == "json":
        data = {
            "environment": environment,
            "agents": [
                {
                    "manifest": r.target.manifest,
                    "project": r.target.project,
                    "agent_id": r.target.agent_id,
                    **report_to_dict(r.report),
                }
                for r in runs
            ],
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        show(Group(*(render_checks(r.target, r.agent_name, r.report) for r in runs)))
        if not detailed_exitcode:
            for warning in commands.threshold_warnings(runs):
                click.echo(f"Warning: {warning}", err=True)
    verdict = commands.check_verdict(environment, runs, detailed=detailed_exitcode)
    if verdict is not None:
        commands.notify_failure(session, environment, [r.target for r in runs], "check", verdict)
        raise verdict
