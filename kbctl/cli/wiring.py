"""Composition root: turns the process (environment, directory, clock, TTY) into a `Session`.

The only module that reads `os.environ` (besides the CLI entry's --debug default). Everything it
builds is handed to `kbctl.commands`, which never looks at the process itself.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from kbctl.cli.context import app_context
from kbctl.cli.env import environ, in_github_actions
from kbctl.clock import SystemClock
from kbctl.commands.session import Progress, Session
from kbctl.provider.retry import RetryNotice
from kbctl.snapshots.gitinfo import current_commit

__all__ = ["confirm", "environ", "in_github_actions", "interactive", "session", "text_width"]


def interactive() -> bool:
    """True when a person can answer a question (stdin and stdout are terminals)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def text_width(*, stderr: bool = False) -> int | None:
    """The width plan text is wrapped at: `COLUMNS` when set, else the terminal's; None (lines
    kept whole, for logs and `grep`) when the output is not a terminal."""
    columns = environ().get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if (sys.stderr if stderr else sys.stdout).isatty():
        return shutil.get_terminal_size().columns
    return None


def confirm(question: str) -> bool:
    """Ask on the terminal (the answer defaults to no)."""
    return click.confirm(question, default=False, err=True)


def session(
    *,
    progress: Progress | None = None,
    ask: bool = False,
    snapshots_dir: str | None = None,
    with_commit: bool = False,
) -> Session:
    """The session of this invocation.

    Args:
        progress: where apply/rollback report.
        ask: let the command ask for confirmation when there is a terminal.
        snapshots_dir: the --snapshots-dir value.
        with_commit: record the current git commit (apply, rollback).
    """
    app = app_context()
    clock = app.clock or SystemClock(interrupt=app.stop.event)
    made = Session(
        clock=clock,
        environ=environ(),
        cwd=Path(),
        connect=app.connect,
        progress=progress,
        confirm=confirm if ask and interactive() else None,
        git_commit=current_commit() if with_commit else None,
        secrets=app.secrets,
        stop=app.stop,
        on_note=_note,
        on_retry=_retrying,
    )
    if snapshots_dir is not None:
        made.snapshots_dir = Path(snapshots_dir)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        # An in-process run (tests, embedders) must not keep an emulator folder locked.
        ctx.call_on_close(made.close)
    return made


def _note(message: str) -> None:
    click.echo(f"Note: {message}", err=True)


def _retrying(notice: RetryNotice) -> None:
    # From worker threads too: one write per line keeps lines whole.
    sys.stderr.write(f"Retry: {notice.message()}\n")
    sys.stderr.flush()
