"""`kbctl plan`: read the live workspace, diff it against the manifests, show what would change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console

from kbctl.cli.errors import annotation
from kbctl.cli.options import environment_option, manifest_option
from kbctl.cli.wiring import in_github_actions, load_targets, open_provider, system_clock
from kbctl.errors import Diagnostic, ExitCode
from kbctl.model import LiveState, Target
from kbctl.observe import observe
from kbctl.plan.planfile import dumps
from kbctl.plan.planner import make_plan
from kbctl.plan.types import Plan, Severity
from kbctl.render.plan_markdown import render_plan_markdown
from kbctl.render.plan_text import render_plan_text


@click.command("plan")
@environment_option
@manifest_option
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Also write the plan as JSON.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format on stdout.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are (1 on error).",
)
@click.option(
    "--refresh-content",
    is_flag=True,
    help="Read and hash every managed document's live content, not only the ones that look "
    "edited in place.",
)
def plan_cmd(
    environment: str,
    files: tuple[str, ...],
    out: str | None,
    fmt: str,
    detailed_exitcode: bool,
    refresh_content: bool,
) -> None:
    """Show what `kbctl apply -e ENV` would change, without changing anything."""
    targets = load_targets(files, environment)
    clock = system_clock()
    pairs: list[tuple[Target, LiveState]] = []
    for target in targets:
        with open_provider(target, clock) as handle:
            live = observe(target, handle.provider, refresh_content=refresh_content)
        pairs.append((target, live))
    plan = make_plan(environment, pairs)
    if out:
        Path(out).write_text(dumps(plan), encoding="utf-8")
    if fmt == "json":
        click.echo(dumps(plan), nl=False)
    elif fmt == "markdown":
        click.echo(render_plan_markdown(plan))
    else:
        Console(highlight=False, soft_wrap=True).print(render_plan_text(plan))
        if out:
            click.echo(
                f"Saved the plan to {out}; apply it with: kbctl apply -e {environment} {out}"
            )
    if in_github_actions():
        for line in _annotations(plan):
            click.echo(line, err=True)
    if detailed_exitcode and plan.has_changes:
        raise click.exceptions.Exit(int(ExitCode.CHANGES))


def _annotations(plan: Plan) -> Iterator[str]:
    """One GitHub Actions annotation per error or warning finding, on its manifest line."""
    kinds = {Severity.ERROR: "error", Severity.WARNING: "warning"}
    for agent in plan.agents:
        for finding in agent.findings:
            kind = kinds.get(finding.severity)
            if kind is None:
                continue
            file = finding.file if finding.file is not None else agent.manifest
            place = Diagnostic(file, finding.line, "", finding.message)
            text = f"{finding.code}: {finding.message}"
            yield annotation(kind, text, place, title=f"kbctl plan {plan.environment}")
