"""Apply's last steps: renames, the one agent update (or the branch rollout) and its
verification, then deleting what was superseded (DESIGN §5 steps 5-7).

Writes the agent once, with the whole `knowledge_base` array, only after every index passed;
deletes only documents nothing else uses. Must not upload documents.
"""

from __future__ import annotations

from concurrent.futures import Executor, as_completed
from dataclasses import replace

from kbctl.apply.deletions import delete_superseded
from kbctl.apply.events import (
    AgentUpdated,
    DocumentRenamed,
    Phase,
    PhaseStarted,
    RolloutStep,
)
from kbctl.apply.reattach import ReattachSteps
from kbctl.apply.staging import BranchStage
from kbctl.apply.steps import follow_small, renames
from kbctl.apply.swap import check_unchanged, description, rag_update, target_entries
from kbctl.apply.types import (
    DocOutcome,
)
from kbctl.apply.verification import (
    check_still_ours,
    verify_written,
)
from kbctl.checks.gate import checks_gate_error
from kbctl.errors import (
    ApiError,
    ApplyError,
    KbctlError,
)
from kbctl.identity import shares_documents
from kbctl.model import (
    KbEntry,
    LiveAgent,
    LiveState,
    RagSettings,
)
from kbctl.plan.matching import ORPHAN
from kbctl.plan.types import UpdateDocument
from kbctl.provider.base import InPlaceUpdates


class SwapSteps(ReattachSteps):
    """The swap (direct or staged on a branch) and the deletions after it."""

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
        try:  # the agent is read while the lease is checked (two reads, one round trip)
            reading = pool.submit(self.provider.get_agent, self.plan.agent_id)
            self.lease.confirm()
            current = reading.result()
        except ApiError as err:
            raise self._api_failure(
                f"checking {self.plan.words.the} before the update", err
            ) from err
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
            raise self._api_failure(f"updating {self.plan.words.the}", err) from err
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
                self.where,
                stop,
                deleted=len(self.deleted),
                cleanup_problems=problems,
                words=self.plan.words,
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

    def _check_still_ours(self) -> None:
        """After the deletions: the agent must still be what this run left (else it lost a race)."""
        if self.expected is None:
            return
        try:
            self.final_agent = check_still_ours(self.provider, self.plan, self.expected)
        except ApiError as err:
            the = self.plan.words.the
            raise self._api_failure(f"reading {the} back after the deletions", err) from err

    def _delete_given_up(self, pool: Executor) -> None:
        """This run's uploads that another run had uploaded first: nobody attached them."""
        doomed = list(self.given_up)
        agent_id = self.plan.agent_id
        notes = pool.map(lambda r: delete_superseded(self.provider, agent_id, r.id), doomed)
        for record, note in zip(doomed, notes, strict=True):
            self._settle(record.key, record.id, note)

    def _project_busy(self) -> str | None:
        """Why this run deletes nothing now (None: it may): another environment of the project
        is applying in this workspace, and a document shared by the project that looks unused
        here may be one that run is about to attach (`docs/sharing.md`)."""
        if not shares_documents(self.target.provider):
            return None
        try:
            runs = self.lease.project_runs()
        except ApiError as err:
            return (
                f"kept: could not tell whether another run of {self.plan.project} is applying "
                f"({err.summary}); the next apply deletes it if nothing uses it"
            )
        if not runs:
            return None
        other = runs[0]
        return (
            f"kept: run {other.run_id} of {other.project}/{other.environment} is applying and "
            "may attach it; the next apply deletes it if nothing uses it"
        )

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
        if not orphans:
            self._delete_given_up(pool)
        if not deletions:
            return
        self.events(PhaseStarted(Phase.DELETE, len(deletions)))
        busy = self._project_busy()
        if busy is not None:  # it may be about to attach one of them: keep them all for now
            for doomed in deletions:
                self._settle(doomed.key, doomed.id, busy)
            return
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
