"""The ledger of a run's document creates: which answers were lost, and when.

Owns the record a provider keeps while it creates documents: every create whose answer was lost
(a 5xx or timeout on POST: the write may or may not have happened), with the local monotonic time
its attempt was sent, and every create that was answered, with its id and the local time of the
answer. Apply reads it once per run (`kbctl.apply.extras`) to find the copies that landed; the
times let it place those copies in the server's clock without trusting that the two clocks agree.
It must not send requests or decide what to delete. Thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LostCreate:
    """A create whose answer was lost: a copy named `name` may exist, created after `sent_at`
    (local monotonic seconds, read before the request was sent)."""

    name: str
    sent_at: float


@dataclass(frozen=True, slots=True)
class AnsweredCreate:
    """A create that was answered: `doc_id` exists, created before `answered_at` (local
    monotonic seconds, read after the answer came)."""

    doc_id: str
    name: str
    answered_at: float


@dataclass(frozen=True, slots=True)
class LedgerView:
    """What the ledger held when it was taken."""

    lost: tuple[LostCreate, ...] = ()
    answered: tuple[AnsweredCreate, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        """The names that may have an extra copy."""
        return frozenset(lost.name for lost in self.lost)

    @property
    def first_lost(self) -> float | None:
        """When the earliest lost create was sent (None: none was lost)."""
        return min((lost.sent_at for lost in self.lost), default=None)


class CreateLedger:
    """Lost and answered creates, recorded by the provider's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lost: list[LostCreate] = []
        self._answered: list[AnsweredCreate] = []

    def lost(self, name: str, sent_at: float) -> None:
        """Record a create of `name` whose answer was lost."""
        with self._lock:
            self._lost.append(LostCreate(name, sent_at))

    def answered(self, doc_id: str, name: str, answered_at: float) -> None:
        """Record a create that was answered with `doc_id`."""
        with self._lock:
            self._answered.append(AnsweredCreate(doc_id, name, answered_at))

    def take(self) -> LedgerView:
        """Everything recorded so far; the ledger starts empty again."""
        with self._lock:
            view = LedgerView(tuple(self._lost), tuple(self._answered))
            self._lost.clear()
            self._answered.clear()
        return view
