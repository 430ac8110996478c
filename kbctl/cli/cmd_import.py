"""`kbctl import` (not built yet)."""

from __future__ import annotations

import click

from kbctl.errors import UsageError


@click.command("import", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def import_cmd(args: tuple[str, ...]) -> None:
    """Not built yet."""
    raise UsageError("kbctl import is not built yet")
