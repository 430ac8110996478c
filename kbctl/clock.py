"""Time, injected.

The only module allowed to read the system clock or sleep (a ruff ban enforces it). Everything
that waits (HTTP backoff, index polling, the emulator's indexing) takes a `Clock`, so tests run on
`FakeClock`, where a ten-minute indexing wait takes microseconds.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of time that can also wait."""

    def now(self) -> float:
        """Wall-clock time as Unix seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (virtually, on a fake clock)."""
        ...


class SystemClock:
    """The real clock. With `interrupt`, a sleep ends early once that event is set."""

    def __init__(self, interrupt: threading.Event | None = None) -> None:
        self._interrupt = interrupt

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._interrupt is not None:
            self._interrupt.wait(seconds)
        else:
            time.sleep(seconds)


class FakeClock:
    """Virtual time: `sleep` advances it at once. Thread-safe.

    Shared by kbctl and the emulator in tests, so that the emulator's indexing advances exactly
    as far as kbctl's polling waits.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._start = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._now - self._start

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (negative values are ignored)."""
        if seconds > 0:
            with self._lock:
                self._now += seconds


def utc_iso(unix_seconds: float) -> str:
    """Format Unix seconds as `2026-01-01T00:00:00Z`."""
    return datetime.fromtimestamp(unix_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
