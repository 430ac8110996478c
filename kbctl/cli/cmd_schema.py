"""`kbctl schema`: print the manifest's JSON Schema (for editors and other tools). Thin."""

from __future__ import annotations

import click

from kbctl.manifest import schema_text


@click.command("schema")
def schema_cmd() -> None:
    """Print the manifest JSON Schema (Draft 2020-12) that ships with this kbctl."""
    click.echo(schema_text().rstrip("\n"))
