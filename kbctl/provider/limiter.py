"""`Limiter`: how many requests kbctl has in flight, adapting to the server's throttling.

Owns admission only (first come, first served) and the AIMD limit, and the two ways to set it:
a fixed ceiling (`--concurrency N`: never more than N in flight) or "auto" (start at
`AUTO_START`, find the server's limit, never above `AUTO_CEILING`). It must not sleep or read a
clock: waiting here is for other threads' requests to finish, not for time to pass. Backoff
sleeps happen in `ApiClient` with the slot released, so waiting work never holds a slot.
"""

from __future__ import annotations

import threading
from typing import Final

#: Where "auto" concurrency starts: above the lowest paid ElevenLabs plans (3-5 in flight), so a
#: plan's limit is found by a few 429s rather than left mostly unused; most plans allow 2-15.
AUTO_START: Final = 8
#: The most requests "auto" ever has in flight, however long the server keeps accepting more.
AUTO_CEILING: Final = 32
#: Successes per slot, under pressure, before probing past a limit the server named: a 429
#: then costs one retry in every 16 × limit requests, not in every 2 × limit.
_SETTLED_PROBE: Final = 16
#: What a 429's body says when the server is at its concurrency limit (reference §1.5).
TOO_MANY_CONCURRENT: Final = b"too_many_concurrent_requests"


def ceiling_of(concurrency: int | None) -> int:
    """The most requests in flight a `--concurrency` value allows (None: auto)."""
    return AUTO_CEILING if concurrency is None else concurrency


class Limiter:
    """At most `limit` requests in flight, admitted first come, first served.

    ElevenLabs throttles on concurrency, so a 429 cuts the limit (once per round of requests:
    the requests sent before the cut do not cut again): to one below the requests in flight
    when the refused request was sent, if the 429 says `too_many_concurrent_requests` (the
    server took the others), else by half; it grows by one (past a limit the server named, 16
    times less often) after
    `2 * limit` successes made while it was reached (a limit nobody presses against is no
    evidence that more would pass), never above `ceiling`. Admission is in arrival order, so a
    request sent back by a 429 queues behind the others instead of taking the next probe again.
    """

    def __init__(self, ceiling: int, start: int | None = None) -> None:
        if ceiling < 1:
            raise ValueError("the ceiling must be at least 1")
        self.ceiling = ceiling
        self.limit = max(1, min(start if start is not None else ceiling, ceiling))
        self.lowest = self.limit  # the lowest the limit went (reports, benchmarks)
        self.cuts = 0  # how often a 429 cut the limit
        self._in_flight = 0
        self._epoch = 0
        self._streak = 0
        self._pressed = False  # the limit was reached since it last grew
        self._settled: int | None = None  # the limit a too_many_concurrent_requests cut set
        self._next_ticket = 0
        self._serving = 0
        self._cond = threading.Condition()
        self._local = threading.local()  # per thread: requests in flight at its admission

    @classmethod
    def for_concurrency(cls, concurrency: int | None) -> Limiter:
        """`--concurrency N` (a hard cap, starting at N) or None: auto."""
        if concurrency is None:
            return cls(AUTO_CEILING, AUTO_START)
        return cls(concurrency)

    @property
    def in_flight(self) -> int:
        """Requests holding a slot now."""
        with self._cond:
            return self._in_flight

    def acquire(self) -> int:
        """Wait for a slot; returns the round the request belongs to."""
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving or self._in_flight >= self.limit:
                self._cond.wait()
            self._serving += 1
            self._in_flight += 1
            self._local.admitted = self._in_flight  # what a 429 to this request is about
            if self._in_flight >= self.limit:
                self._pressed = True
            self._cond.notify_all()
            return self._epoch

    def release(self, epoch: int, *, throttled: bool, concurrent: bool = False) -> None:
        """Give the slot back, saying whether the server answered 429, and whether it said the
        429 was for too many concurrent requests (`too_many_concurrent_requests`)."""
        with self._cond:
            # In flight when this request was sent (it included): what the server refused.
            in_flight = getattr(self._local, "admitted", self._in_flight)
            self._in_flight -= 1
            if throttled:
                self._streak = 0
                if epoch == self._epoch:  # the first 429 of this round cuts the limit
                    # Too many in flight: the server took the others, so its limit is about
                    # one below what was in flight; any other 429 (busy) halves.
                    cut = min(self.limit - 1, in_flight - 1) if concurrent else self.limit // 2
                    self.limit = max(1, cut)
                    self._settled = self.limit if concurrent else None
                    self.lowest = min(self.lowest, self.limit)
                    self.cuts += 1
                    self._epoch += 1
                    self._pressed = False
            elif self.limit < self.ceiling and self._pressed:
                self._streak += 1
                # At the limit the server named, probe past it only now and then.
                settled = self._settled is not None and self.limit >= self._settled
                if self._streak >= (_SETTLED_PROBE if settled else 2) * self.limit:
                    self.limit += 1
                    self._streak = 0
                    self._pressed = False
            self._cond.notify_all()
