"""How `kbctl apply` shows its progress: the three drawings of its events.

- `LiveProgress` (a TTY): a rich Live view, one line per phase with counts, and a table of the
  documents in flight (uploaded, indexing with percentage, failed, deleted, kept).
- `PlainProgress` (no TTY, e.g. CI logs): one timestamped line per thing that happened,
  `2026-01-01T00:00:00Z  created quarters/q1.md (doc_abc)`; index polls print only on a change
  of status, so a long wait does not flood the log.
- `JsonProgress` (`--json`): one JSON object per line on stdout, `{"event": …, "time": …}`.

Each is also a context manager (the live view must stop before an error is printed) and has
`note` (a line outside any agent) and `run_finished` (the final summary with counts and time).
Times come from the injected clock. Drawing only: nothing here decides anything.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console

from kbctl.cli.drawing import Drawing
from kbctl.cli.progress_lines import HEARTBEAT_SECONDS, JsonProgress, PlainProgress
from kbctl.cli.progress_live import LiveProgress
from kbctl.clock import Clock

__all__ = [
    "HEARTBEAT_SECONDS",
    "Drawing",
    "JsonProgress",
    "LiveProgress",
    "PlainProgress",
    "Progress",
    "make_progress",
]

Progress = PlainProgress | JsonProgress | LiveProgress


def make_progress(clock: Clock, stream: TextIO, *, as_json: bool, tty: bool) -> Progress:
    """The drawing for this run: JSON lines, a live view on a TTY, or plain lines."""
    if as_json:
        return JsonProgress(clock, stream)
    if tty:
        return LiveProgress(clock, Console(file=stream, highlight=False))
    return PlainProgress(clock, stream)
