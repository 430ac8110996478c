"""`kbctl emulator` (not built yet)."""

from __future__ import annotations

import click


@click.group("emulator")
def emulator_group() -> None:
    """Not built yet."""
