"""`kbctl plan`: read the live workspace, diff it against the manifests, show what would change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console

from kbctl import commands
from kbctl.cli import wiring
from kbctl.cli.errors import annotation
from kbctl.cli.options import environment_option, manifest_option, scope_options
from kbctl.errors import Diagnostic, ExitCode, UsageError
from kbctl.plan.planfile import dumps
from kbctl.plan.types import Plan, Scope, Severity
from kbctl.render.plan_markdown import render_plan_markdown
from kbctl.render.plan_text import render_plan_text
from kbctl.render.wrapping import fitted


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
    "--allow-destroy",
    is_flag=True,
    help="Plan as `apply --allow-destroy` would run: policy refusals do not fail the plan.",
)
@click.option(
    "--refresh-content",
    is_flag=True,
    help="Read and hash every managed document's live content, not only the ones that look "
    "edited in place.",
)
@scope_options
@click.option(
    "--no-diff",
    "no_diff",
    is_flag=True,
    help="Do not read the live content of replaced text documents to show a diff.",
)
def plan_cmd(
    environment: str,
    files: tuple[str, ...],
    out: str | None,
    fmt: str,
    detailed_exitcode: bool,
    allow_destroy: bool,
    refresh_content: bool,
    no_diff: bool,
    target_keys: tuple[str, ...],
    replace_keys: tuple[str, ...],
    replace_all: bool,
) -> None:
    """Show what `kbctl apply -e ENV` would change, without changing anything.

    \b
    Exit codes: 0 no changes (or changes, without --detailed-exitcode), 2 changes with
    --detailed-exitcode, 1 when a finding makes apply certain to fail, 5 when policy
    (protect, max_deletes) would refuse it without --allow-destroy.
    """
    session = wiring.session()
    made = commands.plan(
        session,
        environment,
        files,
        refresh_content=refresh_content,
        diff=not no_diff,
        scope=Scope(target_keys, replace_keys, replace_all),
    ).plan
    if out:
        try:
            Path(out).write_text(session.secrets.redact(dumps(made)), encoding="utf-8")
        except OSError as err:
            raise UsageError(
                f"Cannot write the plan to {out}",
                detail=f"{type(err).__name__}: {err.strerror or err}",
                hint="Pass --out a path in an existing folder you can write to.",
            ) from None
    if fmt == "json":
        click.echo(session.secrets.redact(dumps(made, list_unchanged=True)), nl=False)
    elif fmt == "markdown":
        click.echo(session.secrets.redact(render_plan_markdown(made)))
    else:
        text = render_plan_text(made)
        if out:
            text.append(
                f"\nSaved the plan to {out}; apply it with: kbctl apply -e {environment} {out}"
            )
        width = wiring.text_width()
        Console(highlight=False, soft_wrap=True, width=width).print(fitted(text, width))
    if wiring.in_github_actions():
        for line in _annotations(made):
            click.echo(line, err=True)
    verdict = commands.plan_verdict(made, allow_destroy=allow_destroy)
    if verdict is not None:
        raise verdict
    if detailed_exitcode and made.has_changes:
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
