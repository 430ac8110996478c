"""Apply's first steps: create (or reuse) and request indexes, the index gate, and the
retrieval checks before the swap (DESIGN §5 steps 3-4).

Uploads run `concurrency` at a time and are recorded as they finish; each index request is
handed to the gate at once, and the gate polls while the uploads go on (a failure it sees stops
the uploads not yet started). A gate that fails deletes what this run created, so the agent is
never touched. Must not write the agent.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass
from threading import Event
from typing import assert_never

from kbctl.apply.deletions import delete_created
from kbctl.apply.events import (
    DocumentCreated,
    GatePassed,
    Phase,
    PhaseStarted,
)
from kbctl.apply.extras import ExtraCopySteps
from kbctl.apply.gate_report import gate_error
from kbctl.apply.steps import Hold, Upload, Work, is_new, work_for
from kbctl.apply.types import (
    DocOutcome,
)
from kbctl.checks.gate import checks_gate_error
from kbctl.errors import (
    ApiError,
    ApplyError,
)
from kbctl.model import (
    DocumentSpec,
    IndexStatus,
    SmallDocumentPolicy,
)
from kbctl.plan.types import DocumentChange
from kbctl.provider.base import IndexState, StagedCreates

#: Index answers of a reused leftover that a fresh upload may not get (the quota was full, or
#: indexing failed, when the crashed run uploaded it); a too-small document stays too small.
RETRYABLE_FAILURES = frozenset({IndexStatus.RAG_LIMIT_EXCEEDED, IndexStatus.FAILED})


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What a worker did for one change: the id holding it and its index answer."""

    change: DocumentChange
    doc_id: str | None = None
    created: bool = False
    state: IndexState | None = None
    requested_at: float = 0.0
    error: ApiError | None = None
    dropped: str | None = None  # a leftover deleted to upload its content afresh
    upload: DocumentSpec | None = None  # uploaded, to be attached with the others (staged)


class UploadSteps(ExtraCopySteps):
    """Create, index gate and the checks before the swap."""

    # ----------------------------------------------------------------------------------------
    # Step 1: create (or reuse) and request the index, overlapped, `concurrency` at a time.

    def _prepare(self, pool: Executor, specs: dict[str, DocumentSpec]) -> None:
        work = [w for w in map(work_for, self.plan.changes) if w is not None]
        if not work:
            return
        self.events(PhaseStarted(Phase.CREATE, len(work)))
        self.gate.start()  # polls begin with the first index request, not after the last upload
        stop = Event()
        staged = isinstance(self.provider, StagedCreates)
        futures = [pool.submit(self._prepare_one, w, specs, stop, staged) for w in work]
        try:
            first_error = self._collect(futures, stop)
        finally:
            stop.set()  # an interrupt (or a failure) stops the uploads not yet started
        if first_error is None and staged and not self.options.stop.requested:
            uploaded = [p for p in (f.result() for f in futures) if p.upload is not None]
            first_error = self._attach_uploaded(uploaded)
            if first_error is not None:  # nothing was attached: the uploads are worth nothing
                self._cleanup(pool, list(self.created))
                gone = {d.id for d in self.deleted}
                self.created = [r for r in self.created if r.id not in gone]
        if first_error is not None:
            raise self._api_failure("creating documents", first_error) from first_error

    def _attach_uploaded(self, uploaded: list[_Prepared]) -> ApiError | None:
        """Attach every document uploaded in step 1 at once (a provider with staged creates:
        OpenAI file batches) and track each one's index; the API error, if any."""
        if not uploaded:
            return None
        assert isinstance(self.provider, StagedCreates)
        items = []
        for p in uploaded:
            assert p.doc_id is not None and p.upload is not None and p.change.name is not None
            items.append((p.doc_id, p.upload, p.change.name))
        requested_at = self.clock.monotonic()
        try:
            states = self.provider.attach_documents(items)
        except ApiError as err:
            return err
        for p in uploaded:
            assert p.doc_id is not None
            if p.change.needs_index:
                state = states.get(p.doc_id, IndexState(IndexStatus.NOT_INDEXED))
                self.gate.track(p.change.key, p.doc_id, state, requested_at)
        return None

    def _collect(self, futures: list[Future[_Prepared]], stop: Event) -> ApiError | None:
        """Record each finished upload/index request as it comes; the first API error, if any."""
        first_error: ApiError | None = None
        for future in as_completed(futures):
            done = future.result()
            change = done.change
            if done.dropped is not None:
                self._settle(change.key, done.dropped, None)
            if done.doc_id is not None and is_new(change):
                record = DocOutcome(change.key, done.doc_id)
                (self.created if done.created else self.reused).append(record)
                self.events(DocumentCreated(change.key, done.doc_id, reused=not done.created))
            if done.error is not None:
                stop.set()
                first_error = first_error or done.error
            elif (
                done.state is not None
                and done.doc_id is not None
                and not self.gate.track(change.key, done.doc_id, done.state, done.requested_at)
            ):
                stop.set()
            if self.gate.failed:  # seen by a poll: no point uploading more
                stop.set()
        return first_error

    def _prepare_one(
        self, work: Work, specs: dict[str, DocumentSpec], stop: Event, staged: bool = False
    ) -> _Prepared:
        """Worker: upload (unless reused) then ask for the index — or, `staged`, upload only
        (`_attach_uploaded` attaches them all after). Never raises an ApiError."""
        if stop.is_set() or self.options.stop.requested or self.gate.failed:
            return _Prepared(work.change)
        match work:
            case Upload(change=change):
                spec = specs.get(change.key)
                if spec is None:  # upload_specs found every upload's content
                    raise ApplyError(f"{change.key}: the plan uploads content the manifest lacks")
                try:
                    if staged:
                        assert isinstance(self.provider, StagedCreates)
                        doc_id = self.provider.upload_document(spec, change.name)
                    else:
                        doc_id = self.provider.create_document(spec, change.name)
                except ApiError as err:  # only the upload can fail here: nothing was created
                    return _Prepared(change, error=err)
                if staged:
                    return _Prepared(change, doc_id, True, upload=spec)
                if doc_id == change.live_id:
                    # A document edited in place keeps the name its replacement gets: a create
                    # whose answer was lost, looked up by name, may find the old one. Never
                    # swap a document for itself (and then delete it).
                    raise ApplyError(
                        f"{change.key}: the upload's answer was lost and the document found "
                        "by its name is the one it replaces",
                        hint="Run kbctl apply again: the new upload is then a managed orphan it "
                        "reuses.",
                    )
                created, index, retry = True, change.needs_index, False
            case Hold(change=change, doc_id=doc_id):
                created, index, retry = False, work.index, work.retry_failed
            case _:
                assert_never(work)
        if not index:
            return _Prepared(change, doc_id, created)
        try:
            state, requested_at = self.gate.request(doc_id, retry_failed=retry)
        except ApiError:
            # The gate's polls ask again (get-or-create), and give up if the API keeps failing.
            state, requested_at = IndexState(IndexStatus.NOT_INDEXED), self.clock.monotonic()
        if change.reuse_id is not None and state.status in RETRYABLE_FAILURES:
            return self._fresh_copy(change, doc_id, _Prepared(change, doc_id, created, state))
        return _Prepared(change, doc_id, created, state, requested_at)

    def _fresh_copy(self, change: DocumentChange, orphan: str, stale: _Prepared) -> _Prepared:
        """Worker: a reused leftover whose index failed for good (say `rag_limit_exceeded`
        when a crashed run uploaded it) is worth nothing as it is: delete it and upload the
        content again, so the gate judges a fresh index, not the leftover's old answer."""
        spec = self.leftover_specs.get(change.key)
        if spec is None or change.name is None or delete_created(self.provider, orphan):
            return stale  # cannot replace it: the gate reports the old answer
        try:
            doc_id = self.provider.create_document(spec, change.name)
        except ApiError as err:
            return _Prepared(change, error=err, dropped=orphan)
        try:
            state, requested_at = self.gate.request(doc_id)
        except ApiError:
            state, requested_at = IndexState(IndexStatus.NOT_INDEXED), self.clock.monotonic()
        return _Prepared(change, doc_id, True, state, requested_at, dropped=orphan)

    # ----------------------------------------------------------------------------------------
    # Step 2: the index gate.

    def _wait(self, pool: Executor) -> None:
        tracked = self.gate.tracked
        if tracked:
            self.events(PhaseStarted(Phase.INDEX, tracked))
        try:
            self.gate.wait(pool)  # the polls began with the uploads; this waits for the rest
        except ApiError as err:
            raise self._api_failure("waiting for indexes", err) from err
        if tracked == 0:
            return
        if not self.gate.failed:
            self.events(GatePassed(len(self.gate.indexed)))
            self._small_documents(pool)
            return
        failed_ids = {f.doc_id for f in self.gate.failures}
        problems = self._cleanup(
            pool, [*self.created, *(r for r in self.reused if r.id in failed_ids)]
        )
        raise gate_error(
            self.where,
            self.gate.failures,
            tracked=tracked,
            deleted=len(self.deleted),
            cleanup_problems=problems,
            words=self.plan.words,
        )

    def _small_documents(self, pool: Executor) -> None:
        """Say what happens to documents the API called too small (policy prompt or skip);
        under `skip`, delete the ones this run uploaded (they will not be attached)."""
        policy = self.plan.policy.small_documents
        for small in self.gate.small:
            outcome = (
                "attached with usage_mode prompt"
                if policy is SmallDocumentPolicy.PROMPT
                else "left out of the knowledge base"
            )
            self._warn(
                f"{small.key}: the API answered document_too_small (it measures the extracted "
                f"text): {outcome} (policy small_documents: {policy.value})"
            )
        if policy is SmallDocumentPolicy.SKIP:
            keys = {s.key for s in self.gate.small}
            doomed = [r for r in self.created if r.key in keys]
            self.created = [r for r in self.created if r.key not in keys]
            for record, note in zip(
                doomed, pool.map(lambda r: delete_created(self.provider, r.id), doomed), strict=True
            ):
                self._settle(record.key, record.id, note)

    def _cleanup(self, pool: Executor, doomed: list[DocOutcome]) -> list[str]:
        """After a failed gate: delete what this run created; the problems, if any."""
        self.events(PhaseStarted(Phase.CLEANUP, len(doomed)))
        problems: list[str] = []
        notes = pool.map(lambda r: delete_created(self.provider, r.id), doomed)
        for record, note in zip(doomed, notes, strict=True):
            self._settle(record.key, record.id, note)
            if note is not None:
                problems.append(f"could not delete {record.key} ({record.id}): {note}")
        return problems

    # ----------------------------------------------------------------------------------------
    # Step 2b: the retrieval checks, against the documents the agent is about to have.

    def _check_before_swap(self, pool: Executor) -> None:
        try:
            stop = self.checks.before_swap(self._ids(), pool.map)
        except ApiError as err:
            raise self._api_failure("running the retrieval checks", err) from err
        if stop is not None:
            problems = self._cleanup(pool, list(self.created))
            raise checks_gate_error(
                self.where,
                stop,
                deleted=len(self.deleted),
                cleanup_problems=problems,
                words=self.plan.words,
            )
