"""Apply one agent's plan, exactly as planned: create → index gate → one PATCH → verify → delete.

Owns the order of DESIGN §5 and the crash-safety it promises. It never re-diffs: it takes the
agent's lease (one run at a time, `kbctl.apply.lease`), checks that the live state is still the
one the plan was made from (fingerprint), then carries out the plan's changes, `knowledge_base`
array and deletions as they are, and finally checks the agent is still what it wrote
(`kbctl.apply.verification`: a later writer won the race, exit 4). Every wait goes through the
injected `Clock`; every report goes through `EventSink`; every failure is a `KbctlError`.

Why each step is safe to interrupt: uploads carry kbctl's marker, so a document created by a run
that dies is a managed orphan the next plan reuses (same hash) or deletes (other hash); the
agent is written once, with the whole array, so it never holds duplicates; deletions come last
and only touch documents no other agent (or branch) uses; only orphans nobody wants go first,
so the quota they hold cannot fail the gate. A reused leftover whose index failed for good is
deleted and uploaded afresh, so a crash at the gate never needs two reruns.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from threading import Event
from typing import assert_never

from kbctl.apply.deletions import delete_created, delete_superseded
from kbctl.apply.events import (
    AgentUpdated,
    ApplyWarning,
    DocumentCreated,
    DocumentDeleted,
    DocumentKept,
    DocumentRenamed,
    EventSink,
    Finished,
    GatePassed,
    Phase,
    PhaseStarted,
    PlanStarted,
    RolloutStep,
)
from kbctl.apply.gate import IndexGate, gate_error
from kbctl.apply.guards import check_guards, upload_specs
from kbctl.apply.lease import Lease, lease_owner, renewing, ttl_for
from kbctl.apply.retrieval import RetrievalGate
from kbctl.apply.staging import BranchStage, Staged
from kbctl.apply.steps import Hold, Upload, Work, follow_small, is_new, renames, work_for
from kbctl.apply.swap import check_unchanged, description, rag_update, target_entries
from kbctl.apply.types import (
    ApplyHook,
    ApplyOptions,
    ApplyResult,
    DocOutcome,
    NullHook,
    Outcome,
    summary_line,
)
from kbctl.apply.verification import (
    Expected,
    after_state,
    check_still_ours,
    verify_written,
    who_wrote,
)
from kbctl.checks.gate import checks_gate_error
from kbctl.clock import Clock
from kbctl.errors import (
    ApiError,
    ApplyError,
    ConcurrentChangeError,
    IndexGateError,
    InterruptedRunError,
    KbctlError,
    StalePlanError,
    UsageError,
)
from kbctl.model import (
    DocumentSpec,
    IndexStatus,
    KbEntry,
    LiveAgent,
    LiveState,
    RagSettings,
    SmallDocumentPolicy,
    Target,
)
from kbctl.plan.matching import ORPHAN
from kbctl.plan.types import AgentPlan, DocumentChange, UpdateDocument
from kbctl.provider.base import AgentBranchesApi, IndexState, InPlaceUpdates, Provider

#: Index answers of a reused leftover that a fresh upload may not get (the quota was full, or
#: indexing failed, when the crashed run uploaded it); a too-small document stays too small.
RETRYABLE_FAILURES = frozenset({IndexStatus.RAG_LIMIT_EXCEEDED, IndexStatus.FAILED})


def apply_agent_plan(
    plan: AgentPlan,
    target: Target,
    provider: Provider,
    clock: Clock,
    *,
    events: EventSink,
    options: ApplyOptions,
    hook: ApplyHook | None = None,
    agents: AgentBranchesApi | None = None,
    observed: LiveState | None = None,
) -> ApplyResult:
    """Carry out `plan` for `target`'s agent; returns what was done.

    `agents` (the agent's rag-query, branches and deployments) lets the retrieval checks use
    the agent's own retrieval and makes `rollout: branch` possible; without it the checks use
    the content search. `observed` is the live state the plan was just made from, in this
    process: then only the agent is read again for the fingerprint check (not the whole
    listing), and the "after" snapshot is built from the verified read-back plus what this run
    created, renamed and deleted. A saved plan passes None: the full live state is re-read.

    Raises:
        IndexGateError: a document is too small under policy `fail`, an index did not
            succeed, or the retrieval checks fell below `min_coverage` with `on_failure: abort`
            (documents this run created are deleted; the agent is unchanged).
        PolicyError: a guarded deletion without `options.allow_destroy`.
        StalePlanError: the live state or a document's content moved since the plan was made.
        ConcurrentChangeError: someone changed the agent while apply was uploading/indexing.
        VerificationError: the agent read back differs from what was written.
        ApplyError: the API failed part-way; the message says what was done.
    """
    run = _Run(plan, target, provider, clock, events, options, hook or NullHook(), agents)
    run.observed = observed
    return run.execute()


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


class _Run:
    """One apply in progress; collects what was done so a failure can report it."""

    def __init__(
        self,
        plan: AgentPlan,
        target: Target,
        provider: Provider,
        clock: Clock,
        events: EventSink,
        options: ApplyOptions,
        hook: ApplyHook,
        agents: AgentBranchesApi | None = None,
    ) -> None:
        self.plan = plan
        self.agents = agents
        self.target = target
        self.provider = provider
        self.clock = clock
        owner = lease_owner(plan, options.run_id, options.commit)
        self.lease = Lease(provider, clock, owner, ttl=ttl_for(plan))
        # One registration: the hook watches the same events the caller's sink gets.
        events = renewing(hook.watch(events), self.lease.keep)
        self.events = events
        self.options = options
        self.hook = hook
        self.where = f"{plan.project}/{plan.environment} (agent {plan.agent_id})"
        self.created: list[DocOutcome] = []
        self.reused: list[DocOutcome] = []
        self.renamed: list[DocOutcome] = []
        self.deleted: list[DocOutcome] = []
        self.kept: list[DocOutcome] = []
        self.warnings: list[str] = []
        self.timings: list[tuple[str, float]] = []
        self.version_id: str | None = None
        self.agent_updated = False
        self.expected: Expected | None = None  # what the agent must be after this run
        self.observed: LiveState | None = None  # the plan's live state, read in this process
        self.live: LiveState | None = None  # the live state this run started from
        self.final_agent: LiveAgent | None = None  # the agent as read back at the end
        self.gate = IndexGate(
            provider,
            clock,
            events,
            model=plan.embedding_model,
            timeout=plan.policy.index_timeout,
            poll_initial=options.poll_initial,
            poll_max=options.poll_max,
            small_documents=plan.policy.small_documents,
            stop=options.stop,
        )
        self.checks = RetrievalGate(target, plan, provider, events, self._warn, agents)
        self.stage = (
            BranchStage(agents, plan, self.lease.run_id)
            if agents is not None and target.rollout.staged
            else None
        )
        self.staged: Staged | None = None  # the branch this run made (rollout: branch)
        self.canary = False  # the checked branch was deployed as a canary, main untouched
        # The manifest content of every reused leftover, should it need uploading afresh.
        reused = {c.key: c.content_hash for c in plan.changes if c.reuse_id is not None}
        self.leftover_specs = {
            s.key: s for s in target.documents if reused.get(s.key) == s.content_hash
        }

    # ----------------------------------------------------------------------------------------

    def execute(self) -> ApplyResult:
        started = self.clock.monotonic()
        if self.target.rollout.staged and self.stage is None:
            raise UsageError(
                f"{self.where} has rollout: branch, but this apply was given no agent branch API",
                hint="Pass agents= (a ProviderHandle's branches) to apply_agent_plan.",
            )
        warnings = check_guards(self.plan, allow_destroy=self.options.allow_destroy)
        specs = upload_specs(self.plan, self.target)
        try:
            self.lease.acquire()  # one run at a time per agent: see kbctl.apply.lease
        except ApiError as err:
            raise self._api_failure("taking the agent's lease", err) from err
        try:
            return self._leased(started, warnings, specs)
        finally:
            self.lease.release()

    def _leased(
        self, started: float, warnings: tuple[str, ...], specs: dict[str, DocumentSpec]
    ) -> ApplyResult:
        live = self._read_live()
        self.live = live
        if live.fingerprint() != self.plan.fingerprint:
            raise StalePlanError(
                f"The live state of {self.where} changed since the plan was made",
                detail="Its fingerprint no longer matches the plan's." + self._writer(live.agent),
                hint="Run kbctl plan (or kbctl apply without a plan file) again.",
            )
        self.hook.before(self.target, live, self.plan)
        self.events(PlanStarted(self.plan))
        for message in warnings:
            self._warn(message)
        outcome = Outcome.FAILED
        error: KbctlError | None = None
        try:
            pool = ThreadPoolExecutor(
                max_workers=max(1, self.options.concurrency), thread_name_prefix="kbctl-apply"
            )
            try:
                if self.stage is not None:  # first: a killed run's branch may hold orphans
                    self._timed(Phase.SWAP, self._clear_stale)
                if any(d.reason == ORPHAN for d in self.plan.deletions):
                    self._timed(Phase.DELETE, lambda: self._delete(pool, orphans=True))
                self._timed(Phase.CREATE, lambda: self._prepare(pool, specs))
                self._timed(Phase.INDEX, lambda: self._wait(pool))
                stage = self.stage
                if stage is None:
                    self._timed(Phase.CHECKS, lambda: self._check_before_swap(pool))
                    self._timed(Phase.SWAP, lambda: self._swap(pool, live))
                else:
                    self._timed(Phase.SWAP, lambda: self._swap_staged(pool, live, stage))
                if not self.canary:  # a canary keeps main, and what it uses, until promote
                    self._timed(Phase.DELETE, lambda: self._delete(pool, orphans=False))
                    self._check_still_ours()
                    self._timed(Phase.CHECKS, lambda: self.checks.after_swap(self._ids(), pool.map))
            finally:
                # On an interrupt, queued work is dropped; requests in flight finish.
                pool.shutdown(wait=True, cancel_futures=True)
            outcome = Outcome.APPLIED
        except InterruptedRunError as err:
            error = self._interrupted(err)
            outcome = Outcome.INTERRUPTED
            raise error from None
        except KbctlError as err:
            error = err
            outcome = _outcome_of(err)
            raise
        finally:
            result = self._result(outcome, error, self.clock.monotonic() - started)
            self.hook.after(self.target, self.plan, result, self._live_after(outcome))
        self.events(Finished(summary_line(self.plan, result), result.seconds))
        return result

    # ----------------------------------------------------------------------------------------
    # Step 1: create (or reuse) and request the index, overlapped, `concurrency` at a time.

    def _prepare(self, pool: Executor, specs: dict[str, DocumentSpec]) -> None:
        work = [w for w in map(work_for, self.plan.changes) if w is not None]
        if not work:
            return
        self.events(PhaseStarted(Phase.CREATE, len(work)))
        stop = Event()
        futures = [pool.submit(self._prepare_one, w, specs, stop) for w in work]
        try:
            first_error = self._collect(futures, stop)
        finally:
            stop.set()  # an interrupt (or a failure) stops the uploads not yet started
        if first_error is not None:
            raise self._api_failure("creating documents", first_error) from first_error

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
        return first_error

    def _prepare_one(self, work: Work, specs: dict[str, DocumentSpec], stop: Event) -> _Prepared:
        """Worker: upload (unless reused) then ask for the index. Never raises an ApiError."""
        if stop.is_set() or self.options.stop.requested:
            return _Prepared(work.change)
        match work:
            case Upload(change=change):
                spec = specs.get(change.key)
                if spec is None:  # upload_specs found every upload's content
                    raise ApplyError(f"{change.key}: the plan uploads content the manifest lacks")
                try:
                    doc_id = self.provider.create_document(spec, change.name)
                except ApiError as err:  # only the upload can fail here: nothing was created
                    return _Prepared(change, error=err)
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
        if tracked == 0:
            return
        self.events(PhaseStarted(Phase.INDEX, tracked))
        try:
            self.gate.wait(pool)
        except ApiError as err:
            raise self._api_failure("waiting for indexes", err) from err
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
                self.where, stop, deleted=len(self.deleted), cleanup_problems=problems
            )

    def _ids(self) -> dict[str, str]:
        """The id now holding each key this run created or reused."""
        return {d.key: d.id for d in (*self.reused, *self.created)}

    # ----------------------------------------------------------------------------------------
    # Steps 3-5: renames, the concurrent-change check, one PATCH, read back and verify.

    def _before_write(
        self, pool: Executor, live: LiveState
    ) -> tuple[LiveAgent, tuple[KbEntry, ...], RagSettings | None] | None:
        """Renames, the concurrent-change check, and what to write (None: nothing to write)."""
        renamed = renames(self.plan.changes)
        try:
            for change, _ in zip(renamed, pool.map(self._rename, renamed), strict=True):
                self.renamed.append(DocOutcome(change.key, change.live_id))
                self.events(DocumentRenamed(change.key, change.live_id, change.name))
        except ApiError as err:
            raise self._api_failure("renaming documents", err) from err
        try:
            self.lease.confirm()
            current = self.provider.get_agent(self.plan.agent_id)
        except ApiError as err:
            raise self._api_failure("checking the agent before the update", err) from err
        uploaded = len(self.created) + len(self.reused)
        check_unchanged(self.plan, live.agent, current, uploaded, self._writer)
        planned = follow_small(
            self.plan.knowledge_base,
            (s.key for s in self.gate.small),
            self.plan.policy.small_documents,
        )
        entries = target_entries(replace(self.plan, knowledge_base=planned), self._ids())
        rag = rag_update(self.plan)
        if entries == current.knowledge_base and rag is None:
            # Nothing to write: only indexes, renames or orphan clean-up were planned.
            self.expected = (current, current.knowledge_base, None)
            return None
        return current, entries, rag

    def _swap(self, pool: Executor, live: LiveState) -> None:
        writing = self._before_write(pool, live)
        if writing is None:
            return
        _, entries, rag = writing
        self.events(PhaseStarted(Phase.SWAP, len(entries)))
        try:
            updated = self.provider.update_agent(
                self.plan.agent_id,
                entries,
                rag,
                description(self.plan, self.lease.run_id, self.options.commit),
            )
            self.agent_updated = True
            self.version_id = updated.version_id
            self.expected = (updated, entries, rag)
            verify_written(self.provider, self.plan, updated, entries, rag)
        except ApiError as err:
            raise self._api_failure("updating the agent", err) from err
        self.events(AgentUpdated(self.plan.agent_id, updated.version_id))

    # ----------------------------------------------------------------------------------------
    # Steps 3-5 of `rollout: branch`: stage on a branch, check there, merge (or canary).

    def _clear_stale(self) -> None:
        assert self.stage is not None
        try:
            for name in self.stage.clear_stale():
                self.events(
                    RolloutStep(
                        "branch_archived", name, f"archived branch {name}, left by an earlier run"
                    )
                )
        except ApiError as err:
            raise self._api_failure("archiving an earlier run's branch", err) from err

    def _swap_staged(self, pool: Executor, live: LiveState, stage: BranchStage) -> None:
        writing = self._before_write(pool, live)
        if writing is None:
            return
        main, entries, rag = writing
        if main.branch_id is None:
            raise ApplyError(
                f"The API did not say which branch is main for agent {self.plan.agent_id}",
                hint="A branch rollout needs it; use rollout: direct for this agent.",
            )
        try:
            self.staged = staged = stage.create(main, entries, rag)
            self.events(RolloutStep("branch_created", staged.name, f"staged on {staged.name}"))
            stop = self.checks.before_swap(self._ids(), pool.map, branch_id=staged.id)
        except ApiError as err:
            raise self._failed(stage, self._api_failure("staging on a branch", err)) from err
        if stop is not None:
            self._abandon(stage, None)  # first: the branch holds this run's uploads
            problems = self._cleanup(pool, list(self.created))
            raise checks_gate_error(
                self.where, stop, deleted=len(self.deleted), cleanup_problems=problems
            )
        percent = self.target.rollout.canary_percent
        try:
            if percent is not None:
                split = stage.deploy(staged, main.branch_id, percent)
                self.canary = True
                self.events(
                    RolloutStep(
                        "canary_deployed",
                        staged.name,
                        f"canary: {staged.name} answers {split.get(staged.id, percent):g}% of "
                        f"the traffic; `kbctl promote -e {self.plan.environment}` merges it",
                    )
                )
                return
            merged = stage.merge(staged, main.branch_id)
        except ApiError as err:
            raise self._failed(stage, self._api_failure("merging the branch", err)) from err
        self.agent_updated = True
        self.version_id = merged.version_id
        self.expected = (merged, entries, rag)
        self.events(RolloutStep("branch_merged", staged.name, f"merged {staged.name} into main"))
        try:
            verify_written(self.provider, self.plan, merged, entries, rag)
        except ApiError as err:
            raise self._api_failure("verifying the merge", err) from err
        self.events(AgentUpdated(self.plan.agent_id, merged.version_id))

    def _abandon(self, stage: BranchStage, error: KbctlError | None) -> KbctlError | None:
        """Archive this run's branch after a failure (main untouched); `error`, to raise."""
        if self.staged is None:
            return error
        try:
            stage.archive(self.staged)
        except ApiError as err:
            self._warn(
                f"could not archive branch {self.staged.name} ({err.summary}); "
                "the next apply archives it"
            )
            return error
        self.events(
            RolloutStep("branch_archived", self.staged.name, f"archived {self.staged.name}")
        )
        return error

    def _failed(self, stage: BranchStage, error: KbctlError) -> KbctlError:
        self._abandon(stage, error)
        return error

    def _writer(self, agent: LiveAgent) -> str:
        return who_wrote(self.provider, agent)

    def _check_still_ours(self) -> None:
        """After the deletions: the agent must still be what this run left (else it lost a race)."""
        if self.expected is None:
            return
        try:
            self.final_agent = check_still_ours(self.provider, self.plan, self.expected)
        except ApiError as err:
            raise self._api_failure("reading the agent back after the deletions", err) from err

    def _rename(self, change: UpdateDocument) -> None:
        if isinstance(self.provider, InPlaceUpdates):  # marker and metadata, written whole
            spec = next(s for s in self.target.documents if s.key == change.key)
            self.provider.update_document(change.live_id, change.name, spec.metadata)
        else:
            self.provider.rename_document(change.live_id, change.name)

    # ----------------------------------------------------------------------------------------
    # Step 6: delete superseded documents nothing else depends on (never `force`).

    def _delete(self, pool: Executor, *, orphans: bool) -> None:
        """Delete the plan's orphans (before the uploads) or the rest (after the swap).

        Orphans are attached to no agent of the run and wanted by no one, so they go first:
        the RAG quota their indexes hold must not make this run's new documents fail the gate
        (which would keep them, and the failure, forever). Everything the agent still uses
        waits for the swap that frees it.
        """
        deletions = [d for d in self.plan.deletions if (d.reason == ORPHAN) is orphans]
        if not deletions:
            return
        self.events(PhaseStarted(Phase.DELETE, len(deletions)))
        agent_id = self.plan.agent_id
        # After the swap the API's dependency cache may lag: ride it out (orphans never need to).
        wait = 0.0 if orphans else self.plan.policy.delete_wait
        futures = {
            pool.submit(
                delete_superseded, self.provider, agent_id, d.id, clock=self.clock, wait=wait
            ): d
            for d in deletions
        }
        for future in as_completed(futures):
            doomed, note = futures[future], future.result()
            self._settle(doomed.key, doomed.id, note)
            if note is not None:
                self._warn(f"{doomed.key} ({doomed.id}) {note}")

    def _settle(self, key: str, doc_id: str, note: str | None) -> None:
        """Record a deletion (note None) or a document kept, and report it."""
        if note is None:
            self.deleted.append(DocOutcome(key, doc_id))
            self.events(DocumentDeleted(key, doc_id))
        else:
            self.kept.append(DocOutcome(key, doc_id, note))
            self.events(DocumentKept(key, doc_id, note))

    # ----------------------------------------------------------------------------------------

    def _timed(self, phase: Phase, step: Callable[[], None]) -> None:
        self.options.stop.check()  # a safe point: nothing of this run is in flight
        started = self.clock.monotonic()
        try:
            step()
        finally:
            self.timings.append((phase.value, self.clock.monotonic() - started))

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self.events(ApplyWarning(message))

    def _api_failure(self, doing: str, err: ApiError) -> ApplyError:
        done = len(self.created) + len(self.reused)
        state = (
            "The agent was already updated; superseded documents may remain until the next apply."
            if self.agent_updated
            else "The agent was not changed."
        )
        kept = (
            f" {done} document(s) uploaded or reused by this run stay as managed orphans; the next "
            "apply reuses them."
            if done and not self.agent_updated
            else ""
        )
        detail = "\n".join(p for p in (err.detail, state + kept) if p)
        return ApplyError(
            f"Apply of {self.where} failed while {doing}: {err.summary}",
            detail=detail,
            hint=err.hint or "Run kbctl apply again: it picks up where this run stopped.",
        )

    def _interrupted(self, err: InterruptedRunError) -> InterruptedRunError:
        """The stop error, saying what this run did and how the next one continues."""
        signal = "SIGTERM" if self.options.stop.terminated else "SIGINT"
        uploaded = len(self.created) + len(self.reused)
        if self.agent_updated:
            left = len(self.plan.deletions) - len(self.deleted) - len(self.kept)
            state = (
                "The agent was updated and verified; "
                f"{left} superseded document(s) remain until the next apply deletes them."
            )
        else:
            state = (
                f"The agent was not changed. {uploaded} uploaded document(s) kept as managed "
                "orphans: the next apply reuses them instead of uploading again."
            )
        return self.options.stop.error(
            f"Apply of {self.where} stopped by {signal}",
            detail=state,
            hint=f"Rerun `kbctl apply -e {self.plan.environment}` to continue without "
            "re-uploading.",
        )

    def _result(self, outcome: Outcome, error: KbctlError | None, seconds: float) -> ApplyResult:
        return ApplyResult(
            agent_id=self.plan.agent_id,
            outcome=outcome,
            created=tuple(self.created),
            reused=tuple(self.reused),
            renamed=tuple(self.renamed),
            indexed=tuple(self.gate.indexed),
            deleted=tuple(self.deleted),
            kept=tuple(self.kept),
            warnings=tuple(self.warnings),
            version_id=self.version_id,
            agent_updated=self.agent_updated,
            timings=tuple(self.timings),
            seconds=seconds,
            error=error.summary if error is not None else None,
            checks_before_swap=self.checks.before,
            checks=self.checks.after,
            gate_rounds=self.gate.rounds,
            gate_requests=self.gate.poll_requests,
            gate_busiest_round=self.gate.busiest_round,
            branch=self.staged.name if self.staged is not None else None,
            canary_percent=self.target.rollout.canary_percent if self.canary else None,
        )

    def _read_live(self) -> LiveState:
        """The live state to check the plan's fingerprint against: the plan's own, with the agent
        read again, when the plan was made in this process; else a full read."""
        observed = self.observed
        if observed is not None and observed.fingerprint() == self.plan.fingerprint:
            return replace(observed, agent=self.provider.get_agent(self.plan.agent_id))
        return self.provider.read_state(
            self.plan.agent_id, self.plan.project, self.plan.environment, with_quota=False
        )

    def _live_after(self, outcome: Outcome) -> LiveState | None:
        if isinstance(self.hook, NullHook):
            return None
        if outcome is Outcome.APPLIED and self.final_agent is not None and self.live is not None:
            return after_state(self.live, self.final_agent, self.plan, self.deleted)
        try:
            return self.provider.read_state(
                self.plan.agent_id, self.plan.project, self.plan.environment, with_quota=False
            )
        except ApiError:
            return None


def _outcome_of(err: KbctlError) -> Outcome:
    if isinstance(err, IndexGateError):
        return Outcome.GATE_FAILED
    if isinstance(err, ConcurrentChangeError):
        return Outcome.CONCURRENT_CHANGE
    return Outcome.FAILED
