"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def environment_option(func: F) -> F:
    """`-e/--environment ENV` (required)."""
    return click.option(
        "-e",
        "--environment",
        "environment",
        required=True,
        metavar="ENV",
        help="Environment of the manifests (local, staging, production, …).",
    )(func)


def manifest_option(func: F) -> F:
    """`-f/--file FILE`, repeatable; default every manifests/*.yaml."""
    return click.option(
        "-f",
        "--file",
        "files",
        multiple=True,
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Manifest file (repeatable). Default: every manifests/*.yaml.",
    )(func)
