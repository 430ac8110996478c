"""`kbctl validate` (not built yet)."""

from __future__ import annotations

import click

from kbctl.errors import UsageError


@click.command("validate", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def validate_cmd(args: tuple[str, ...]) -> None:
    """Not built yet."""
    raise UsageError("kbctl validate is not built yet")
