"""`kbctl check -e ENV`: run the manifests' retrieval checks against the live agent's documents.

Thin: `kbctl.commands.check` runs them, `kbctl.render.checks` draws them, and
`kbctl.commands.check_verdict` decides the exit-3 error.
"""

from __future__ import annotations

import json

import click
from rich.console import Group

from kbctl import commands
from kbctl.checks import report_to_dict
from kbctl.cli import wiring
from kbctl.cli.options import environment_option, manifest_option, text_or_json_option
from kbctl.render.checks import render_checks
from kbctl.render.console import show


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
    runs = commands.check(wiring.session(), environment, files)
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
    verdict = commands.check_verdict(environment, runs)
    if verdict is not None:
        raise verdict
