"""`kbctl validate`: offline checks of the manifests (DESIGN.md §2, §7). Thin: options → core."""

from __future__ import annotations

from pathlib import Path

import click

from kbctl import commands
from kbctl.cli import wiring
from kbctl.cli.errors import annotation


@click.command("validate")
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Manifest file (repeatable). Default: every manifests/*.yaml.",
)
@click.option(
    "-e",
    "--environment",
    "--env",
    "environment",
    default=None,
    metavar="ENV",
    help="Check only this environment; unset ${VAR}s are then errors instead of warnings.",
)
def validate_cmd(files: tuple[Path, ...], environment: str | None) -> None:
    """Check manifests offline: schema, keys, files, ${VAR}s, checks. Exit 1 on any problem."""
    report = commands.validate(wiring.session(), files, environment)
    report.raise_for_errors()  # the error lists the warnings too
    for note in report.notes:
        click.echo(f"Note: {note}", err=True)
    annotate = wiring.in_github_actions()
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)
        if annotate:
            text = f"{warning.path}: {warning.message}"
            click.echo(annotation("warning", text, warning, title="kbctl validate"), err=True)
    click.echo(report.summary())
