"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])

#: The most requests in flight `--concurrency N` accepts.
MAX_CONCURRENCY = 64


class ConcurrencyType(click.ParamType[int | None]):
    """`--concurrency auto|N`: `auto` (None) adapts to the server's limit; N (1-64) is a hard
    cap."""

    name = "auto|N"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | None:
        if value is None or str(value).strip().lower() == "auto":
            return None
        try:
            number = int(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is neither 'auto' nor a whole number.", param, ctx)
        if not 1 <= number <= MAX_CONCURRENCY:
            self.fail(f"{number} is not in the range 1-{MAX_CONCURRENCY}.", param, ctx)
        return number


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


def gated_apply_options(func: F) -> F:
    """The flags apply and rollback share: --allow-destroy, --concurrency, --json."""
    func = click.option(
        "--json", "as_json", is_flag=True, help="Progress as JSON lines on stdout."
    )(func)
    func = click.option(
        "--concurrency",
        type=ConcurrencyType(),
        default="auto",
        show_default=True,
        help="Requests in flight: 'auto' starts at 8 and finds the workspace's limit (429s lower "
        "it, up to 32); N is a hard cap (ElevenLabs plans allow 2-15; lowest paid: 3-5).",
    )(func)
    return click.option(
        "--allow-destroy",
        is_flag=True,
        help="Allow deletions that protect, max_deletes or removing every document would refuse.",
    )(func)


def text_or_json_option(func: F) -> F:
    """`--format text|json` (default text)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format.",
    )(func)


def scope_options(func: F) -> F:
    """`--target KEY`, `--replace KEY` (both repeatable, globs) and `--replace-all`."""
    func = click.option(
        "--replace-all",
        is_flag=True,
        help="Upload and index every (targeted) document again, changed or not: a full rebuild.",
    )(func)
    func = click.option(
        "--replace",
        "replace_keys",
        multiple=True,
        metavar="KEY",
        help="Upload and index this document again even if unchanged (repeatable; globs).",
    )(func)
    return click.option(
        "--target",
        "target_keys",
        multiple=True,
        metavar="KEY",
        help="Plan and apply only these documents; every other entry stays as it is live "
        "(repeatable; globs such as 'quarters/*').",
    )(func)
