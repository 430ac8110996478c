"""A graceful stop, requested from outside (a signal) and honoured at safe points.

The CLI's signal handler calls `StopSignal.request` while a command has `armed` it (the part of
a run that must not be cut short: apply's uploads, gate and swap); outside that, the handler
stops the run at once. Armed code calls `check()` between steps (never in the middle of a
request, so what is in flight finishes), and `SystemClock(interrupt=…)` ends its sleeps when a
stop is requested. Pure threading: no signal handling here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from kbctl.errors import InterruptedRunError, TerminatedRunError


class StopSignal:
    """Set once when the run must stop; remembers why (SIGINT or SIGTERM)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._terminated = False
        self._armed = 0

    @property
    def event(self) -> threading.Event:
        """Set when a stop is requested (for clocks whose sleep it should end)."""
        return self._event

    @property
    def armed(self) -> bool:
        """True while a run is in a part that stops only at safe points."""
        return self._armed > 0

    @contextmanager
    def graceful(self) -> Iterator[None]:
        """Within this block a signal asks for a stop at the next safe point."""
        self._armed += 1
        try:
            yield
        finally:
            self._armed -= 1

    def request(self, *, terminate: bool = False) -> None:
        """Ask the run to stop at its next safe point (`terminate`: SIGTERM, else SIGINT)."""
        if not self._event.is_set():
            self._terminated = terminate
            self._event.set()

    @property
    def requested(self) -> bool:
        """True once a stop was requested."""
        return self._event.is_set()

    def error(
        self, summary: str, *, detail: str | None = None, hint: str | None = None
    ) -> InterruptedRunError:
        """The error that ends a stopped run (exit 130 for SIGINT, 143 for SIGTERM)."""
        kind = TerminatedRunError if self._terminated else InterruptedRunError
        return kind(summary, detail=detail, hint=hint)

    def check(self) -> None:
        """Raise when a stop was requested (the caller catches it to say what was done)."""
        if self._event.is_set():
            raise self.error("Stopped on request")

    @property
    def terminated(self) -> bool:
        """True when the stop came from SIGTERM."""
        return self._terminated


#: How long `join_in_slices` waits at a time.
JOIN_SLICE: Final = 0.2


def join_in_slices(thread: threading.Thread) -> None:
    """Wait for `thread` in short slices. A signal the kernel hands to another thread runs its
    Python handler only when the main thread next runs bytecode: an untimed join would hold
    SIGINT off until the thread ends (a gate can wait for minutes)."""
    while thread.is_alive():
        thread.join(JOIN_SLICE)
