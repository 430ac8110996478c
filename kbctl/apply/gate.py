"""The index gate: request RAG indexes, poll them in batches, and decide pass or stop.

Owns the waiting of DESIGN §5 step 4. Every document that needs an index is `track`ed with the
answer of its index request (made by the executor's workers right after each upload). Once
`start`ed, the gate polls from a thread of its own while the uploads go on, so a document is
polled when due, not after the last upload, and a failure stops the uploads not yet started;
`wait` says no more will come and waits for the verdict (unstarted, it polls in the caller's
thread). A round comes when the first document is due (after `poll_initial`, doubling up to
`poll_max`, sooner when the reported progress or the median duration of the indexes seen done in
this run says so, never past a document's deadline of `policy.index_timeout`) and reads every
pending document through the batch read (⌈N/100⌉ requests); while uploads go on, rounds are at
least `STREAM_GAP` apart. A status newer than kbctl is waited for like one in progress.
`document_too_small` under policy `prompt` or `skip` is reported in `small`, not failed. A round
that fails (after the client's retries) is tried again, up to `MAX_POLL_ERRORS` times in a row.
The first failure ends the wait: documents still indexing are reported as not waited for. It
never deletes a document or touches the agent (the executor cleans up and raises
`kbctl.apply.gate_report.gate_error`). One lock guards its state; events are emitted under it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from kbctl.apply.events import EventSink, IndexProgress
from kbctl.apply.gate_report import GateFailure, SmallDocument
from kbctl.apply.remedies import GateReason, is_gate_failure
from kbctl.clock import Clock
from kbctl.errors import ApiError
from kbctl.model import IndexStatus, SmallDocumentPolicy
from kbctl.provider.base import IndexState, Provider
from kbctl.stop import StopSignal, join_in_slices

#: Documents per batch read (the API's limit).
BATCH_SIZE = 100

#: The shortest wait between two polls of one document, whatever its progress says.
_MIN_WAIT = 0.05
#: Polls of one document that may fail in a row (each after the client's own retries) before
#: apply gives up: a flaky poll is worth another try, an API that keeps failing is not.
MAX_POLL_ERRORS = 3
_SLACK = 0.001  # time closer than this counts as "now" (floats do not always land exactly)
#: While uploads go on, the least time between two poll rounds (seconds).
STREAM_GAP = 0.5
#: Threads reading batches of one round at once (a round of more than 100 documents).
_READERS = 4

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(slots=True)
class _Job:
    key: str
    doc_id: str
    requested_at: float
    deadline: float
    delay: float
    next_at: float
    state: IndexState
    errors: int = 0  # polls in a row that failed after the client's retries


class IndexGate:
    """Tracks the indexes of one apply until every one succeeded, one failed, or time ran out."""

    def __init__(
        self,
        provider: Provider,
        clock: Clock,
        events: EventSink,
        *,
        model: str,
        timeout: float,
        poll_initial: float,
        poll_max: float,
        small_documents: SmallDocumentPolicy = SmallDocumentPolicy.FAIL,
        stop: StopSignal | None = None,
    ) -> None:
        self._stop = stop or StopSignal()
        self._provider = provider
        self._small_policy = small_documents
        self._clock = clock
        self._events = events
        self._model = model
        self._timeout = timeout
        self._poll_initial = max(poll_initial, 0.001)
        self._poll_max = max(poll_max, self._poll_initial)
        self._pending: list[_Job] = []
        self.indexed: list[str] = []
        self.failures: list[GateFailure] = []
        self.small: list[SmallDocument] = []
        self.tracked = 0
        self.rounds = 0  # poll rounds made by `wait`
        self.poll_requests = 0  # batch reads made by `wait`
        self.busiest_round = 0  # the most batch reads one round made (⌈pending/100⌉)
        self._durations: list[float] = []  # request → seen succeeded, of this run's indexes
        self._cond = threading.Condition()  # guards everything above and below
        self._intake_open = True  # more documents may still be tracked
        self._closed = False  # the run ended early: stop polling
        self._last_round = float("-inf")
        self._thread: threading.Thread | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._error: BaseException | None = None  # what stopped the poller thread

    def request(self, doc_id: str, *, retry_failed: bool = False) -> tuple[IndexState, float]:
        """Ask for the index of `doc_id` (idempotent); returns the answer and when it was asked.

        With `retry_failed` (a re-index of a kept document), an index that ended badly is
        deleted and asked for again: the request is get-or-create, so it would only answer the
        old failure. Safe to call from worker threads: it talks to the provider and reads the
        clock.
        """
        requested_at = self._clock.monotonic()
        state = self._provider.request_index(doc_id, self._model)
        if (
            retry_failed
            and state.index_id is not None
            and state.status.needs_reindex
            and state.status is not IndexStatus.NOT_INDEXED
        ):
            self._provider.delete_index(doc_id, state.index_id)
            requested_at = self._clock.monotonic()
            state = self._provider.request_index(doc_id, self._model)
        return state, requested_at

    def track(self, key: str, doc_id: str, state: IndexState, requested_at: float) -> bool:
        """Record the answer to an index request; False when it already failed the gate."""
        with self._cond:
            accepted = self._track(key, doc_id, state, requested_at)
            self._cond.notify_all()
            return accepted

    def _track(self, key: str, doc_id: str, state: IndexState, requested_at: float) -> bool:
        self.tracked += 1
        self._events(IndexProgress(key, state.status, state.progress))
        if state.status is IndexStatus.SUCCEEDED:
            self.indexed.append(key)
            return True
        if self._tolerated_small(key, doc_id, state):
            return True
        if state.status.in_flight or state.status is IndexStatus.NOT_INDEXED:
            deadline = requested_at + self._timeout
            self._pending.append(
                _Job(
                    key=key,
                    doc_id=doc_id,
                    requested_at=requested_at,
                    deadline=deadline,
                    delay=self._poll_initial,
                    next_at=min(requested_at + self._first_wait(), deadline),
                    state=state,
                )
            )
            return True
        self._fail(key, doc_id, state.status, state)
        return False

    def _tolerated_small(self, key: str, doc_id: str, state: IndexState) -> bool:
        """`document_too_small` under policy prompt or skip: recorded in `small`, not failed."""
        if state.status is not IndexStatus.DOCUMENT_TOO_SMALL:
            return False
        if self._small_policy is SmallDocumentPolicy.FAIL:
            return False
        self.small.append(SmallDocument(key, doc_id))
        return True

    def _fail(
        self, key: str, doc_id: str, reason: IndexStatus | GateReason, state: IndexState
    ) -> None:
        self.failures.append(
            GateFailure(key, doc_id, reason, state.status_name, self._small_policy)
        )

    @property
    def failed(self) -> bool:
        """True once any document failed (read without the lock: upload workers ask it
        before each upload, and a list's length is read atomically)."""
        return bool(self.failures)

    def start(self) -> None:
        """Poll from a thread of the gate's own from now on, as documents are tracked."""
        if self._thread is not None:
            return
        self._readers = ThreadPoolExecutor(_READERS, thread_name_prefix="kbctl-gate-read")
        self._thread = threading.Thread(target=self._poller, name="kbctl-gate", daemon=True)
        self._thread.start()

    def wait(self, pool: Executor | None = None) -> None:
        """No more documents will be tracked: poll until every tracked index is terminal, one
        fails, or a deadline passes. Started, it waits for the poller thread (and raises what
        stopped it); else it polls in this thread, reading batches through `pool`."""
        with self._cond:
            self._intake_open = False
            self._cond.notify_all()
        if self._thread is None:
            self._loop(pool)
            return
        join_in_slices(self._thread)
        self._shut_readers()
        if self._error is not None:
            raise self._error
        self._leave_pending()  # tracked after a failure ended the polls

    def close(self) -> None:
        """The run ends (early or not): stop polling and release the thread. Never raises."""
        with self._cond:
            self._closed = True
            self._intake_open = False
            self._cond.notify_all()
        if self._thread is not None:
            join_in_slices(self._thread)
        self._shut_readers()

    def _shut_readers(self) -> None:
        if self._readers is not None:
            self._readers.shutdown(wait=True, cancel_futures=True)

    def _poller(self) -> None:
        try:
            self._loop(self._readers)
        except BaseException as err:  # handed to `wait` in the run's thread
            with self._cond:
                self._error = err
                self._cond.notify_all()

    def _loop(self, pool: Executor | None) -> None:
        """Poll rounds until nothing is pending and no more will come, or one failed."""
        while True:
            with self._cond:
                pause = self._next_pause()
                if pause is None:
                    break
                jobs = sorted(self._pending, key=lambda job: job.requested_at)
            self._stop.check()  # between polls nothing of the gate is in flight
            if pause > 0:
                self._clock.sleep(pause)
                continue
            answers = self._poll(jobs, pool)
            with self._cond:
                now = self._clock.monotonic()
                self._last_round = now
                for job in jobs:
                    answer = answers[job.doc_id]
                    if isinstance(answer, ApiError):
                        if job.next_at <= now + _SLACK:  # only a due document counts the miss
                            self._missed(job, answer, now)
                    else:
                        job.errors = 0
                        self._advance(job, answer, now)
        self._leave_pending()

    def _next_pause(self) -> float | None:
        """Under the lock: 0 when a round is due now, the time to sleep before the next one
        once no more documents will come, None when polling is over.

        While documents are still being tracked the poller does not sleep on the clock: it
        waits for the next `track` (no time passes in this wait; the uploads make it pass) and
        polls when a document is due and the last round is `STREAM_GAP` old. So a round never
        waits for the last upload, and a fake clock is advanced only by the requests.
        """
        while True:
            if self._over() or (not self._pending and not self._intake_open):
                return None
            if self._pending:
                now = self._clock.monotonic()
                first = min(job.next_at for job in self._pending)
                if self._intake_open:
                    first = max(first, self._last_round + STREAM_GAP)
                if first <= now + _SLACK:
                    return 0.0
                if not self._intake_open:
                    return max(first - now, _SLACK)
            self._cond.wait()

    def _leave_pending(self) -> None:
        """The documents still pending are not waited for (a failure ended the polls)."""
        with self._cond:
            for job in self._pending:
                self._fail(job.key, job.doc_id, GateReason.NOT_WAITED, job.state)
            self._pending.clear()

    def _over(self) -> bool:
        return self._closed or bool(self.failures)

    def _poll(self, jobs: list[_Job], pool: Executor | None) -> dict[str, IndexState | ApiError]:
        """One round: batch reads of every job's index, then a new request for each one the
        API lists no index for (get-or-create, so this never starts a second index)."""
        self.rounds += 1
        ids = [job.doc_id for job in jobs]
        chunks = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
        self.poll_requests += len(chunks)
        self.busiest_round = max(self.busiest_round, len(chunks))
        answers: dict[str, IndexState | ApiError] = {}
        reads = _map(pool if len(chunks) > 1 else None, self._read, chunks)
        for chunk, read in zip(chunks, reads, strict=True):
            for doc_id in chunk:
                answers[doc_id] = read if isinstance(read, ApiError) else read[doc_id]
        missing = [
            doc_id
            for doc_id, answer in answers.items()
            if isinstance(answer, IndexState) and answer.status is IndexStatus.NOT_INDEXED
        ]
        asks = _map(pool if len(missing) > 1 else None, self._ask_again, missing)
        for doc_id, again in zip(missing, asks, strict=True):
            answers[doc_id] = again
        return answers

    def _read(self, doc_ids: list[str]) -> dict[str, IndexState] | ApiError:
        """Worker: one batch read (never creates an index)."""
        try:
            states = self._provider.index_states(doc_ids, self._model)
        except ApiError as err:
            return err
        return {d: states.get(d, IndexState(IndexStatus.NOT_INDEXED)) for d in doc_ids}

    def _ask_again(self, doc_id: str) -> IndexState | ApiError:
        """Worker: no index is listed (its request failed, or is not visible yet): ask again."""
        try:
            return self._provider.request_index(doc_id, self._model)
        except ApiError as err:
            return err

    def _missed(self, job: _Job, err: ApiError, now: float) -> None:
        """A poll failed after the client's retries: try again later, up to a point."""
        job.errors += 1
        if job.errors > MAX_POLL_ERRORS:
            raise err
        if now >= job.deadline:
            self._pending.remove(job)
            self._fail(job.key, job.doc_id, GateReason.TIMEOUT, job.state)
            return
        job.delay = min(job.delay * 2, self._poll_max)
        job.next_at = min(now + job.delay, job.deadline)

    def _eta(self, job: _Job, state: IndexState, now: float) -> float:
        """Seconds until the index is likely done, from its progress so far (inf if unknown).

        Progress is read at the server after the request left, so this overestimates a little:
        the next poll lands just after the index finishes rather than just before.
        """
        pct = state.progress
        elapsed = now - job.requested_at
        if not 0 < pct < 100 or elapsed <= 0:
            return float("inf")
        return max(elapsed * (100 - pct) / pct * 1.05, _MIN_WAIT)

    def _learned(self) -> float | None:
        """The median time the indexes of this run took to be seen done (None before one was)."""
        if not self._durations:
            return None
        ordered = sorted(self._durations)
        return ordered[len(ordered) // 2]

    def _first_wait(self) -> float:
        """The first poll of a new index: when the ones seen so far were done, else
        `poll_initial`."""
        learned = self._learned()
        if learned is None:
            return self._poll_initial
        return min(max(learned * 1.05, _MIN_WAIT), self._poll_max)

    def _learned_eta(self, job: _Job, now: float) -> float:
        """Seconds until `job` is as old as the indexes seen done so far (inf when none was)."""
        learned = self._learned()
        if learned is None:
            return float("inf")
        return max(job.requested_at + learned * 1.05 - now, _MIN_WAIT)

    def _advance(self, job: _Job, state: IndexState, now: float) -> None:
        job.state = state
        self._events(IndexProgress(job.key, state.status, state.progress))
        if state.status is IndexStatus.SUCCEEDED:
            self._pending.remove(job)
            self.indexed.append(job.key)
            self._durations.append(now - job.requested_at)
        elif self._tolerated_small(job.key, job.doc_id, state):
            self._pending.remove(job)
        elif state.status.in_flight or state.status is IndexStatus.NOT_INDEXED:
            if now >= job.deadline:
                self._pending.remove(job)
                self._fail(job.key, job.doc_id, GateReason.TIMEOUT, state)
            else:
                job.delay = min(job.delay * 2, self._poll_max)
                wait = min(job.delay, self._eta(job, state, now), self._learned_eta(job, now))
                job.next_at = min(now + wait, job.deadline)
        else:
            assert is_gate_failure(state.status)
            self._pending.remove(job)
            self._fail(job.key, job.doc_id, state.status, state)


def _map(pool: Executor | None, fn: Callable[[_T], _R], items: list[_T]) -> Iterator[_R]:
    """`fn` over `items`, through `pool` when there is one."""
    return map(fn, items) if pool is None else pool.map(fn, items)
