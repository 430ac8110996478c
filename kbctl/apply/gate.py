"""The index gate: request RAG indexes, poll them with backoff, and decide pass or stop.

Owns the waiting of DESIGN §5 step 4. Every document that needs an index is `track`ed with the
answer of its index request (made by the executor's workers right after each upload, so indexing
overlaps the uploads); `wait` then polls each one on its own schedule: first after
`poll_initial`, doubling up to `poll_max`, sooner when the reported progress says the index is
nearly done, never past the document's deadline of `policy.index_timeout` (on the clock's
monotonic time); oldest request first, `concurrency` polls at a time. A poll that fails (after
the HTTP client's retries) is tried again later, up to `MAX_POLL_ERRORS` times in a row. The
first round that sees a failure ends the wait: documents still indexing are reported as not
waited for. It never deletes anything and never touches the agent; the executor does the
cleanup and raises the `IndexGateError` built by `gate_error`.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from kbctl.apply.events import EventSink, IndexProgress
from kbctl.apply.remedies import GateReason, is_gate_failure, remedy
from kbctl.clock import Clock
from kbctl.errors import ApiError, IndexGateError
from kbctl.model import IndexStatus
from kbctl.provider.base import IndexState, Provider
from kbctl.stop import StopSignal

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

    @property
    def remedy(self) -> str:
        """What to do about it."""
        return remedy(self.reason)


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
        stop: StopSignal | None = None,
    ) -> None:
        self._stop = stop or StopSignal()
        self._provider = provider
        self._clock = clock
        self._events = events
        self._model = model
        self._timeout = timeout
        self._poll_initial = max(poll_initial, 0.001)
        self._poll_max = max(poll_max, self._poll_initial)
        self._pending: list[_Job] = []
        self.indexed: list[str] = []
        self.failures: list[GateFailure] = []
        self.tracked = 0

    def request(self, doc_id: str) -> tuple[IndexState, float]:
        """Ask for the index of `doc_id` (idempotent); returns the answer and when it was asked.

        Safe to call from worker threads: it only talks to the provider and reads the clock.
        """
        requested_at = self._clock.monotonic()
        return self._provider.request_index(doc_id, self._model), requested_at

    def track(self, key: str, doc_id: str, state: IndexState, requested_at: float) -> bool:
        """Record the answer to an index request; False when it already failed the gate."""
        self.tracked += 1
        self._events(IndexProgress(key, state.status, state.progress))
        if state.status is IndexStatus.SUCCEEDED:
            self.indexed.append(key)
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
                    next_at=min(requested_at + self._poll_initial, deadline),
                    state=state,
                )
            )
            return True
        self.failures.append(GateFailure(key, doc_id, state.status))
        return False

    @property
    def failed(self) -> bool:
        """True once any document failed."""
        return bool(self.failures)

    def wait(self, pool: Executor) -> None:
        """Poll until every tracked index is terminal, one fails, or a deadline passes."""
        while self._pending and not self.failures:
            self._stop.check()  # between polls nothing is in flight
            now = self._clock.monotonic()
            due = sorted(
                (job for job in self._pending if job.next_at <= now + _SLACK),
                key=lambda job: job.requested_at,
            )
            if not due:
                self._clock.sleep(max(min(job.next_at for job in self._pending) - now, _SLACK))
                continue
            answers = list(pool.map(self._poll, due))
            now = self._clock.monotonic()
            for job, answer in zip(due, answers, strict=True):
                if isinstance(answer, ApiError):
                    self._missed(job, answer, now)
                else:
                    job.errors = 0
                    self._advance(job, answer, now)
        for job in self._pending:
            self.failures.append(GateFailure(job.key, job.doc_id, GateReason.NOT_WAITED))
        self._pending.clear()

    def _poll(self, job: _Job) -> IndexState | ApiError:
        """Worker: read the index (asking for it again when none is listed)."""
        try:
            state = self._provider.index_state(job.doc_id, self._model)
            if state.status is IndexStatus.NOT_INDEXED:
                # No index listed (its request failed, or is not visible yet): ask again; the
                # request is get-or-create, so this never starts a second index.
                state = self._provider.request_index(job.doc_id, self._model)
        except ApiError as err:
            return err
        return state

    def _missed(self, job: _Job, err: ApiError, now: float) -> None:
        """A poll failed after the client's retries: try again later, up to a point."""
        job.errors += 1
        if job.errors > MAX_POLL_ERRORS:
            raise err
        if now >= job.deadline:
            self._pending.remove(job)
            self.failures.append(GateFailure(job.key, job.doc_id, GateReason.TIMEOUT))
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

    def _advance(self, job: _Job, state: IndexState, now: float) -> None:
        job.state = state
        self._events(IndexProgress(job.key, state.status, state.progress))
        if state.status is IndexStatus.SUCCEEDED:
            self._pending.remove(job)
            self.indexed.append(job.key)
        elif state.status.in_flight or state.status is IndexStatus.NOT_INDEXED:
            if now >= job.deadline:
                self._pending.remove(job)
                self.failures.append(GateFailure(job.key, job.doc_id, GateReason.TIMEOUT))
            else:
                job.delay = min(job.delay * 2, self._poll_max)
                wait = min(job.delay, self._eta(job, state, now))
                job.next_at = min(now + wait, job.deadline)
        else:
            assert is_gate_failure(state.status)
            self._pending.remove(job)
            self.failures.append(GateFailure(job.key, job.doc_id, state.status))


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
    lines = [f"- {f.key}: {f.reason.value} — {f.remedy}" for f in failed]
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
