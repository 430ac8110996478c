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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from kbctl.apply.events import (
    EventSink,
    Finished,
    Phase,
    PlanStarted,
)
from kbctl.apply.guards import check_guards, upload_specs
from kbctl.apply.swapping import SwapSteps
from kbctl.apply.types import (
    ApplyHook,
    ApplyOptions,
    ApplyResult,
    NullHook,
    Outcome,
    summary_line,
)
from kbctl.apply.verification import (
    after_state,
)
from kbctl.clock import Clock
from kbctl.errors import (
    ApiError,
    ConcurrentChangeError,
    IndexGateError,
    InterruptedRunError,
    KbctlError,
    StalePlanError,
    UsageError,
)
from kbctl.fingerprint import live_fingerprint
from kbctl.identity import shares_documents
from kbctl.model import (
    DocumentSpec,
    LiveState,
    Target,
)
from kbctl.plan.matching import ORPHAN
from kbctl.plan.types import AgentPlan
from kbctl.provider.base import AgentBranchesApi, Provider
from kbctl.provider.limiter import ceiling_of


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
    if plan.unlisted is not None:
        raise UsageError(
            f"The plan for {plan.words.label(plan.agent_id)} summarises its unchanged documents",
            detail="A plan read from a file lists no unchanged document and no knowledge_base.",
            hint="Check it against a plan made now (kbctl.apply.saved.check_saved_plan) and "
            "apply the plan that returns.",
        )
    run = _Run(plan, target, provider, clock, events, options, hook or NullHook(), agents)
    run.observed = observed
    return run.execute()


class _Run(SwapSteps):
    """One apply: the lease, the fingerprint check, the steps in order, the result."""

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
            raise self._api_failure(f"taking {self.plan.words.the}'s lease", err) from err
        try:
            return self._leased(started, warnings, specs)
        finally:
            self.lease.release()

    def _leased(
        self, started: float, warnings: tuple[str, ...], specs: dict[str, DocumentSpec]
    ) -> ApplyResult:
        live, verified = self._read_live()
        self.live = live
        if not verified and self._fingerprint(live) != self.plan.fingerprint:
            raise StalePlanError(
                f"The live state of {self.where} changed since the plan was made",
                detail="Its fingerprint no longer matches the plan's." + self._writer(live.agent),
                hint="Run kbctl plan (or kbctl apply without a plan file) again.",
            )
        self._forget_lost_creates()
        self.hook.before(self.target, live, self.plan)
        self.events(PlanStarted(self.plan))
        for message in warnings:
            self._warn(message)
        outcome = Outcome.FAILED
        error: KbctlError | None = None
        try:
            # Twice the requests that may be in flight: a worker waiting out a backoff (a
            # create tried again, a 429) holds no request slot, and the others keep them busy.
            pool = ThreadPoolExecutor(
                max_workers=2 * ceiling_of(self.options.concurrency),
                thread_name_prefix="kbctl-apply",
            )
            try:
                if self.stage is not None:  # first: a killed run's branch may hold orphans
                    self._timed(Phase.SWAP, self._clear_stale)
                if any(d.reason == ORPHAN for d in self.plan.deletions):
                    self._timed(Phase.DELETE, lambda: self._delete(pool, orphans=True))
                self._timed(Phase.CREATE, lambda: self._prepare(pool, specs))
                self._start_reconcile(pool)  # lost creates' copies, while the gate waits
                self._timed(Phase.INDEX, lambda: self._wait(pool))
                self._end_reconcile()
                self._timed(Phase.INDEX, lambda: self._settle_shared(pool))
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
                try:
                    self._end_reconcile()  # it deletes through the pool: before it closes
                finally:
                    # On an interrupt, queued work is dropped; requests in flight finish.
                    pool.shutdown(wait=True, cancel_futures=True)
                self.gate.close()
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

    def _interrupted(self, err: InterruptedRunError) -> InterruptedRunError:
        """The stop error, saying what this run did and how the next one continues."""
        signal = "SIGTERM" if self.options.stop.terminated else "SIGINT"
        uploaded = len(self.created) + len(self.reused)
        if self.agent_updated:
            left = len(self.plan.deletions) - len(self.deleted) - len(self.kept)
            state = (
                f"{self.plan.words.the_title} was updated and verified; "
                f"{left} superseded document(s) remain until the next apply deletes them."
            )
        else:
            state = (
                f"{self.plan.words.the_title} was not changed. {uploaded} uploaded document(s) "
                "kept as managed orphans: the next apply reuses them instead of uploading again."
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
            extra_copies=tuple(self.extra_copies),
        )

    def _read_live(self) -> tuple[LiveState, bool]:
        """The live state to check the plan's fingerprint against: the plan's own, with the agent
        read again, when the plan was made in this process; else a full read. True when it is
        known to match already: the plan's own state, whose agent reads back the same as far as
        the fingerprint sees (its array and RAG settings)."""
        observed = self.observed
        if observed is not None and self._fingerprint(observed) == self.plan.fingerprint:
            agent = self.provider.get_agent(self.plan.agent_id)
            seen = observed.agent
            same = (agent.id, agent.knowledge_base, agent.rag) == (
                seen.id,
                seen.knowledge_base,
                seen.rag,
            )
            return replace(observed, agent=agent), same
        live = self.provider.read_state(
            self.plan.agent_id, self.plan.project, self.plan.environment, with_quota=False
        )
        return live, False

    def _fingerprint(self, live: LiveState) -> str:
        """The fingerprint as the planner took it (with shared documents: of what it uses)."""
        shared = shares_documents(self.target.provider)
        return live_fingerprint(live, self.plan.referenced if shared else None)

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
