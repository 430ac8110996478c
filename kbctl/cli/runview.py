"""The CLI's side of a run: the `Progress` sink `kbctl.commands` reports apply and rollback to.

Wraps one of `kbctl.cli.progress`'s drawings (live view, plain lines, JSON lines) and adds
what a run shows around the executor's events: the plan before it is carried out, notes, and
the final line. Drawing only.
"""

from __future__ import annotations

from types import TracebackType
from typing import TextIO

from rich.console import Console

from kbctl.apply.events import EventSink
from kbctl.cli.progress import Progress as Drawing
from kbctl.cli.progress import make_progress
from kbctl.clock import Clock
from kbctl.plan.types import Plan
from kbctl.render.plan_text import render_plan_text
from kbctl.render.wrapping import fitted


class RunView:
    """The `kbctl.commands.Progress` of one CLI apply or rollback."""

    def __init__(
        self, clock: Clock, stream: TextIO, *, as_json: bool, tty: bool, width: int | None = None
    ) -> None:
        self.as_json = as_json
        self.drawing: Drawing = make_progress(clock, stream, as_json=as_json, tty=tty)
        # With --json, stdout carries only events: the plan goes to stderr.
        self.width = width
        self.console = Console(
            highlight=False, soft_wrap=True, stderr=as_json, file=None, width=width
        )

    def note(self, message: str) -> None:
        self.drawing.note(message)

    def plan_ready(self, plan: Plan, *, saved: bool) -> None:
        if not saved:
            self.console.print(fitted(render_plan_text(plan), self.width))

    def run_finished(self, title: str, summary: str, seconds: float) -> None:
        self.drawing.run_finished(title, summary, seconds)

    def apply_events(self) -> EventSink:
        return self.drawing

    def __enter__(self) -> RunView:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.drawing.close()  # a live view must stop before an error is printed
