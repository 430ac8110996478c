"""Retry timing and reporting: backoff with jitter, `Retry-After`, and the `RetryNotice` seam.

Owns how long kbctl waits before a retry and what it tells its listener about it. It must not
sleep (the `ApiClient` sleeps on the injected clock) or decide which failures are retried.
"""

from __future__ import annotations

import email.utils
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

BACKOFF_BASE: Final = 0.5
BACKOFF_CAP: Final = 30.0
RETRY_AFTER_CAP: Final = 60.0


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """A request failed and is about to be tried again after `delay_s` seconds.

    `reason` is short and secret-free (`"HTTP 503"`, `"HTTP 429 too_many_concurrent_requests"`,
    `"could not connect"`); `attempt` is the number of the attempt about to be made (2 for the
    first retry), out of `max_attempts`.
    """

    method: str
    path: str
    reason: str
    status: int | None
    delay_s: float
    attempt: int
    max_attempts: int

    def message(self) -> str:
        """One line for a person: `503, retrying in 2 s, attempt 2/6 (GET /v1/…)`."""
        reason = self.reason.removeprefix("HTTP ")
        return (
            f"{reason}, retrying in {_seconds(self.delay_s)}, "
            f"attempt {self.attempt}/{self.max_attempts} ({self.method} {self.path})"
        )


#: Called once per retry, from whichever thread made the request; must not raise.
RetryListener = Callable[[RetryNotice], None]


def ignore_retries(notice: RetryNotice) -> None:
    """The default listener: retries are silent."""


class Backoff:
    """Full-jitter exponential backoff: uniform in [0, min(cap, 0.5 s · 2^attempt)].

    Thread-safe; `seed` makes the jitter repeatable (tests).
    """

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def delay(self, attempt: int) -> float:
        """The wait before retry number `attempt` (0-based)."""
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** min(attempt, 32)))
        with self._lock:
            return self._rng.uniform(0.0, ceiling)


def retry_after(raw_ms: str | None, raw: str | None, now: float) -> float | None:
    """The server's requested wait from `Retry-After-Ms` / `Retry-After` (seconds or an HTTP
    date), capped at 60 s; None when absent or unreadable."""
    if raw_ms is not None:
        try:
            return _clamp(float(raw_ms) / 1000.0)
        except ValueError:
            pass
    if raw is None:
        return None
    try:
        return _clamp(float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return _clamp(when.timestamp() - now)


def _clamp(seconds: float) -> float:
    return max(0.0, min(RETRY_AFTER_CAP, seconds))


def _seconds(delay: float) -> str:
    if delay < 1.0:
        return f"{delay * 1000:.0f} ms"
    return f"{delay:.0f} s" if delay >= 10 else f"{delay:.1f} s".replace(".0 s", " s")
