"""The index gate: request RAG indexes, poll them in batches, and decide pass or stop.

Owns the waiting of DESIGN §5 step 4. Every document that needs an index is `track`ed with the
answer of its index request (made by the executor's workers right after each upload, so indexing
overlaps the uploads); `wait` then polls in rounds: a round comes when the first document is due
(first after `poll_initial`, doubling up to `poll_max`, sooner when the reported progress says an
index is nearly done or when the indexes seen finishing so far say it should be — the median of
their observed durations, learned as the run goes — never past a document's deadline of
`policy.index_timeout` on the clock's monotonic time) and reads every pending document at once
through the batch read (⌈N/100⌉ requests). A status newer than kbctl is waited for like one in
progress, until the timeout names it. `document_too_small` under policy `prompt` or `skip` is not a
failure: the document is reported in `small` and the executor attaches it in prompt mode or leaves
it out. A round that fails (after the HTTP client's retries) is tried again later, up to
`MAX_POLL_ERRORS` times in a row. The first round that sees a failure ends the wait: documents still
indexing are reported as not waited for. It never deletes a document and never touches the agent;
the executor does the cleanup and raises the `IndexGateError` built by `gate_error`.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from kbctl.apply.events import EventSink, IndexProgress
from kbctl.apply.remedies import GateReason, is_gate_failure, remedy
from kbctl.clock import Clock
from kbctl.errors import ApiError, IndexGateError
from kbctl.model import IndexStatus, SmallDocumentPolicy
from kbctl.provider.base import IndexState, Provider
from kbctl.stop import StopSignal

#: Documents per batch read (the API's limit).
BATCH_SIZE = 100

#: The shortest wait between two polls of one document, whatever its progress says.
_MIN_WAIT = 0.05
#: Polls of one document that may fail in a row (each after the client's own retries) before
#: apply gives up: a flaky poll is worth another try, an API that keeps failing is not.
MAX_POLL_ERRORS = 3
#: Time closer than this counts as "now" (clocks in floats do not always land exactly).
_SLACK = 0.001


@dataclass(frozen=True, slots=True)
class GateFailure:
    """One document that did not pass the gate."""

    key: str
    doc_id: str
    reason: IndexStatus | GateReason
    reported: str = ""  # the last status the API named (for a timeout: what it was still)
    policy: SmallDocumentPolicy = SmallDocumentPolicy.FAIL

    @property
    def remedy(self) -> str:
        """What to do about it."""
        return remedy(self.reason, self.policy, self.reported)

    @property
    def label(self) -> str:
        """The reason, with the status a timeout was still in."""
        if self.reason is GateReason.TIMEOUT and self.reported:
            return f"timeout (still {self.reported})"
        return self.reason.value


@dataclass(frozen=True, slots=True)
class SmallDocument:
    """A document the API answered `document_too_small` for, under policy prompt or skip."""

    key: str
    doc_id: str


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
        """True once any document failed."""
        return bool(self.failures)

    def wait(self, pool: Executor) -> None:
        """Poll until every tracked index is terminal, one fails, or a deadline passes."""
        while self._pending and not self.failures:
            self._stop.check()  # between polls nothing is in flight
            now = self._clock.monotonic()
            first = min(job.next_at for job in self._pending)
            if first > now + _SLACK:
                self._clock.sleep(max(first - now, _SLACK))
                continue
            # Every pending document is read in the round: a batch costs one request per 100,
            # so waiting for each document's own schedule would only add rounds.
            jobs = sorted(self._pending, key=lambda job: job.requested_at)
            answers = self._poll(jobs, pool)
            now = self._clock.monotonic()
            for job in jobs:
                answer = answers[job.doc_id]
                if isinstance(answer, ApiError):
                    if job.next_at <= now + _SLACK:  # only a due document counts the miss
                        self._missed(job, answer, now)
                else:
                    job.errors = 0
                    self._advance(job, answer, now)
        for job in self._pending:
            self._fail(job.key, job.doc_id, GateReason.NOT_WAITED, job.state)
        self._pending.clear()

    def _poll(self, jobs: list[_Job], pool: Executor) -> dict[str, IndexState | ApiError]:
        """One round: batch reads of every job's index, then a new request for each one the
        API lists no index for (get-or-create, so this never starts a second index)."""
        self.rounds += 1
        ids = [job.doc_id for job in jobs]
        chunks = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
        self.poll_requests += len(chunks)
        self.busiest_round = max(self.busiest_round, len(chunks))
        answers: dict[str, IndexState | ApiError] = {}
        for chunk, read in zip(chunks, pool.map(self._read, chunks), strict=True):
            for doc_id in chunk:
                answers[doc_id] = read if isinstance(read, ApiError) else read[doc_id]
        missing = [
            doc_id
            for doc_id, answer in answers.items()
            if isinstance(answer, IndexState) and answer.status is IndexStatus.NOT_INDEXED
        ]
        for doc_id, again in zip(missing, pool.map(self._ask_again, missing), strict=True):
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


def gate_error(
    where: str,
    failures: list[GateFailure],
    *,
    tracked: int,
    deleted: int,
    cleanup_problems: list[str],
) -> IndexGateError:
    """The exit-3 error: each failing document with its status and what to do."""
    failed = [f for f in failures if f.reason is not GateReason.NOT_WAITED]
    waited = [f for f in failures if f.reason is GateReason.NOT_WAITED]
    lines = [f"- {f.key}: {f.label} — {f.remedy}" for f in failed]
    if waited:
        keys = ", ".join(f.key for f in waited[:10])
        more = f" and {len(waited) - 10} more" if len(waited) > 10 else ""
        lines.append(f"- not waited for ({len(waited)}): {keys}{more}")
    lines.extend(f"- {problem}" for problem in cleanup_problems)
    removed = (
        f"the {deleted} document(s) this run created were deleted"
        if deleted
        else ("nothing was left behind")
    )
    if cleanup_problems:
        removed = "some documents this run created could not be deleted (the next apply does it)"
    return IndexGateError(
        f"Apply stopped at the index gate for {where}: "
        f"{len(failed)} of {tracked} document(s) did not index",
        detail="\n".join(lines),
        hint=(
            f"The agent was not changed; {removed}. "
            "Fix the cause above, then run kbctl apply again."
        ),
    )
