"""`kbctl snapshots` (not built yet)."""

from __future__ import annotations

import click


@click.group("snapshots")
def snapshots_group() -> None:
    """Not built yet."""
