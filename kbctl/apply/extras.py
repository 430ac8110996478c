"""The extra copies a run's lost creates left behind: found once per run, off the critical path.

A document create whose answer was lost (a 5xx or timeout: the write may or may not have
happened) is tried again by the provider and recorded in its ledger (`kbctl.provider.ledger`);
nothing is listed per failure. After the uploads, while the index gate waits, apply takes the
ledger and, when a create was lost, looks for the copies that landed with whichever read costs
fewer requests:

- one walk of the listing newest first (pages of 100), stopped once past the run's window. The
  window is in the server's clock (`created_at`, whole seconds) and comes from a document this run
  created: its `created_at`, minus the local time from the earliest lost create to that
  document's answer, minus `MARGIN`. The local and server clocks are never compared;
- one name search (first page, newest first) per name whose answer was lost.

A copy has exactly the name of a lost create and is none of: an id a create was answered with,
a document the run saw before it began (its live state: the agent's and every managed one), one
the run keeps, or, where the window is known, older than the window. So another environment's
document (its name carries that environment) and a reused one are never touched. Copies are
deleted without `force`; a refusal or a failure is a warning. One missed (the name search can
miss a document; the run may die first) is an unattached managed document of this environment,
which the next plan deletes as an orphan. Must not touch the agent; never raises an ApiError.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import replace

from kbctl.apply.deletions import delete_created
from kbctl.apply.events import ExtraCopyDeleted
from kbctl.apply.run_state import RunState
from kbctl.apply.types import DocOutcome
from kbctl.errors import ApiError
from kbctl.identity import parse_marker
from kbctl.model import LiveDocument
from kbctl.provider.base import LedgeredCreates
from kbctl.provider.ledger import AnsweredCreate, LedgerView
from kbctl.stop import join_in_slices

#: Seconds taken off the window's start: the server's `created_at` is whole seconds.
MARGIN = 2.0
#: Pages the walk may read beyond its estimate when it cannot place the window (then it stops:
#: a copy left is cleaned up by the next plan).
_EXTRA_PAGES = 2


def walk_pages(view: LedgerView) -> int:
    """The pages a walk of the listing is expected to read: the documents created since the
    earliest lost create (answered ones, and a copy per lost one at most), then one older."""
    first = view.first_lost
    if first is None:
        return 0
    since = sum(1 for a in view.answered if a.answered_at >= first) + len(view.lost)
    return math.ceil(since / 100) + 1


def find_extra_copies(
    provider: LedgeredCreates, view: LedgerView, protected: Iterable[str]
) -> tuple[LiveDocument, ...]:
    """The extra copies the lost creates of `view` left: a walk of the newest documents or one
    name search per lost name, whichever reads fewer pages. `protected` ids are never copies.

    Raises ApiError (the caller turns it into a warning)."""
    names = view.names
    first = view.first_lost
    if not names or first is None:
        return ()
    answered = {a.doc_id: a for a in view.answered}
    estimate = walk_pages(view)
    if len(names) <= estimate:
        found = _searched(provider, names, answered, first)
    else:
        found = _walked(provider, names, answered, first, estimate + _EXTRA_PAGES)
    keep = set(protected) | set(answered)
    unique = {d.id: d for d in found if d.id not in keep}
    return tuple(sorted(unique.values(), key=lambda d: (d.name, d.id)))


def window_start(
    docs: Iterable[LiveDocument], answered: dict[str, AnsweredCreate], first: float
) -> float | None:
    """The earliest server `created_at` a copy can have, from the documents among `docs` this
    run created (None: none of them is there). A document answered at local time `a` was
    created at server time ≤ S(a); so S(first) ≥ created_at − (a − first), whatever the offset
    between the clocks."""
    starts = [
        doc.created_at - (answered[doc.id].answered_at - first) - MARGIN
        for doc in docs
        if doc.id in answered and doc.created_at is not None
    ]
    return max(starts, default=None)


def _in_window(doc: LiveDocument, start: float | None) -> bool:
    return start is None or doc.created_at is None or doc.created_at >= start


def _walked(
    provider: LedgeredCreates,
    names: frozenset[str],
    answered: dict[str, AnsweredCreate],
    first: float,
    cap: int,
) -> list[LiveDocument]:
    """Read the listing newest first until a page reaches past the window (or `cap` pages)."""
    start: float | None = None
    found: list[LiveDocument] = []
    for read, page in enumerate(provider.newest_document_pages(), start=1):
        here = window_start(page, answered, first)
        if here is not None:
            start = here if start is None else max(start, here)
        found += [d for d in page if d.name in names]
        past = start is not None and any(
            d.created_at is not None and d.created_at < start for d in page
        )
        if past or read >= cap:
            break
    return [d for d in found if _in_window(d, start)]


def _searched(
    provider: LedgeredCreates,
    names: frozenset[str],
    answered: dict[str, AnsweredCreate],
    first: float,
) -> list[LiveDocument]:
    """One name search per lost name; the window from the documents they show."""
    seen = [doc for name in sorted(names) for doc in provider.newest_named_documents(name)]
    start = window_start(seen, answered, first)
    return [d for d in seen if _in_window(d, start)]


class ExtraCopySteps(RunState):
    """Apply's reconciliation of lost creates: started after the uploads, in a thread of its
    own while the index gate waits; joined before the swap (and before the pool closes)."""

    _extras_thread: threading.Thread | None = None
    _extras_error: BaseException | None = None

    def _forget_lost_creates(self) -> None:
        """A run starts with an empty ledger (what an earlier run on this provider left is in
        this run's live state: the plan deals with it)."""
        if isinstance(self.provider, LedgeredCreates):
            self.provider.create_ledger.take()

    def _start_reconcile(self, pool: Executor) -> None:
        """After the uploads: take the ledger and, if a create was lost, look for and delete
        the copies that landed, in the background."""
        provider = self.provider
        if not isinstance(provider, LedgeredCreates) or self._extras_thread is not None:
            return
        view = provider.create_ledger.take()
        # Only names this run's plan creates (a provider shared with another run holds its
        # creates too; their kept ids are not this run's to protect).
        planned = {c.name for c in self.plan.changes if c.name is not None}
        view = replace(view, lost=tuple(lost for lost in view.lost if lost.name in planned))
        if not view.lost:
            return
        protected = {r.id for r in (*self.created, *self.reused, *self.given_up)}
        if self.live is not None:
            protected |= {d.id for d in self.live.documents}
            protected |= {e.id for e in self.live.agent.knowledge_base}

        def run() -> None:
            try:
                self._reconcile(provider, view, frozenset(protected), pool)
            except BaseException as err:  # handed to `_end_reconcile` in the run's thread
                self._extras_error = err

        self._extras_thread = threading.Thread(target=run, name="kbctl-extras", daemon=True)
        self._extras_thread.start()

    def _end_reconcile(self) -> None:
        """Wait for the reconciliation, if one runs (idempotent); raise what broke it."""
        thread = self._extras_thread
        if thread is not None:
            join_in_slices(thread)
        error, self._extras_error = self._extras_error, None
        if error is not None:
            raise error

    def _reconcile(
        self,
        provider: LedgeredCreates,
        view: LedgerView,
        protected: frozenset[str],
        pool: Executor,
    ) -> None:
        lost = len(view.lost)
        try:
            copies = find_extra_copies(provider, view, protected)
        except ApiError as err:
            self._warn(
                f"{lost} create(s) lost their answer and the copies that may have landed could "
                f"not be looked for ({err.summary}); the next apply deletes any it finds"
            )
            return
        if not copies or self.options.stop.requested:
            return
        notes = pool.map(lambda d: delete_created(self.provider, d.id), copies)
        for doc, note in zip(copies, notes, strict=True):
            marker = parse_marker(doc.name)
            key = marker.key if marker is not None else doc.name
            if note is None:
                self.extra_copies.append(DocOutcome(key, doc.id))
                self.events(ExtraCopyDeleted(key, doc.id))
            else:
                self._warn(
                    f"{key}: extra copy {doc.id} (a create whose answer was lost) not deleted: "
                    f"{note}; the next apply deletes it"
                )
