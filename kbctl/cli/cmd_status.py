"""`kbctl status` (not built yet)."""

from __future__ import annotations

import click

from kbctl.errors import UsageError


@click.command("status", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def status_cmd(args: tuple[str, ...]) -> None:
    """Not built yet."""
    raise UsageError("kbctl status is not built yet")
