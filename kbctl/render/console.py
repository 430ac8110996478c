"""Where the renderers' tables go: the terminal's width, or wide plain lines in logs and pipes.

Piped or logged output gets 200 columns (no truncated ids) and no trailing padding, so a
`kbctl snapshots show | grep …` or a CI log reads cleanly.
"""

from __future__ import annotations

import sys

from rich.console import Console, RenderableType


def wide_console() -> Console:
    """A console for tables: the terminal's width, or 200 columns in logs."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 200
    return console


def show(renderable: RenderableType) -> None:
    """Print a renderable on stdout; without a terminal, without trailing spaces."""
    console = wide_console()
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
