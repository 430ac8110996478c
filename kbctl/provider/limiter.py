"""`Limiter`: how many requests kbctl has in flight, adapting to the server's throttling.

Owns admission only (first come, first served) and the AIMD limit. It must not sleep or read a
clock: waiting here is for other threads' requests to finish, not for time to pass. Backoff
sleeps happen in `ApiClient` with the slot released, so waiting work never holds a slot.
"""

from __future__ import annotations

import threading


class Limiter:
    """At most `limit` requests in flight, admitted first come, first served.

    ElevenLabs throttles on concurrency, so the limit halves on a 429 (once per round of
    requests) and creeps back up by one after `2 * limit` successes, never above the configured
    ceiling. Admission is in arrival order, so a request sent back by a 429 queues behind the
    others instead of taking the next probe again.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = ceiling
        self._in_flight = 0
        self._epoch = 0
        self._streak = 0
        self._next_ticket = 0
        self._serving = 0
        self._cond = threading.Condition()

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
            self._cond.notify_all()
            return self._epoch

    def release(self, epoch: int, *, throttled: bool) -> None:
        """Give the slot back, saying whether the server answered 429."""
        with self._cond:
            self._in_flight -= 1
            if throttled:
                self._streak = 0
                if epoch == self._epoch:  # the first 429 of this round shrinks the limit
                    self.limit = max(1, self.limit // 2)
                    self._epoch += 1
            elif self.limit < self.ceiling:
                self._streak += 1
                if self._streak >= 2 * self.limit:
                    self.limit += 1
                    self._streak = 0
            self._cond.notify_all()
