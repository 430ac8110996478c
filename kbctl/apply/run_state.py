"""The state of one apply in progress, and the small helpers every step shares.

`RunState` holds what the executor's steps read and record (the plan, provider, events, what
was created, reused, deleted and kept) so a failure can say what was done. The steps live in
`uploading` (create, index gate, checks before the swap) and `swapping` (the one agent update,
the branch rollout, deletions); `executor` runs them in order. No step logic here.
"""

from __future__ import annotations

from collections.abc import Callable

from kbctl.apply.events import (
    ApplyWarning,
    DocumentDeleted,
    DocumentKept,
    EventSink,
    Phase,
    serialized,
)
from kbctl.apply.gate import IndexGate
from kbctl.apply.lease import Lease, lease_owner, renewing, ttl_for
from kbctl.apply.retrieval import RetrievalGate
from kbctl.apply.staging import BranchStage, Staged
from kbctl.apply.types import (
    ApplyHook,
    ApplyOptions,
    DocOutcome,
)
from kbctl.apply.verification import (
    Expected,
    who_wrote,
)
from kbctl.clock import Clock
from kbctl.errors import (
    ApiError,
    ApplyError,
)
from kbctl.model import (
    LiveAgent,
    LiveState,
    Target,
)
from kbctl.plan.types import AgentPlan
from kbctl.provider.base import AgentBranchesApi, Provider


class RunState:
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
        # One registration: the hook watches the same events the caller's sink gets; the run's
        # thread and the gate's poller emit them one at a time.
        events = serialized(renewing(hook.watch(events), self.lease.keep))
        self.events = events
        self.options = options
        self.hook = hook
        self.where = plan.where
        self.created: list[DocOutcome] = []
        self.reused: list[DocOutcome] = []
        self.renamed: list[DocOutcome] = []
        self.deleted: list[DocOutcome] = []
        self.kept: list[DocOutcome] = []
        #: Uploads given up for another run's earlier copy (`reattach`), deleted after the swap.
        self.given_up: list[DocOutcome] = []
        #: Extra copies left by creates whose answer was lost, deleted (`extras`).
        self.extra_copies: list[DocOutcome] = []
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

    def _ids(self) -> dict[str, str]:
        """The id now holding each key this run created or reused."""
        return {d.key: d.id for d in (*self.reused, *self.created)}

    def _writer(self, agent: LiveAgent) -> str:
        return who_wrote(self.provider, agent)

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
        the = self.plan.words.the_title
        state = (
            f"{the} was already updated; superseded documents may remain until the next apply."
            if self.agent_updated
            else f"{the} was not changed."
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
