"""Branch-staged rollouts (`rollout: branch`): the new knowledge base on an agent branch first,
checked there with the agent's own retrieval, then merged into main (or deployed as a canary).

Owns which branches are kbctl's and the rules that keep them few: a branch is kbctl's when its
name starts with `kbctl/` and its description with the environment's marker
(`kbctl:<project>/<environment>`); at most one unarchived kbctl branch exists per agent and
environment (one left by a killed run is archived before a new one is made, and is never
merged: only a branch checked by the current run is); a kbctl branch that answers traffic is a
live canary, which no second rollout may start beside (`live_canary`, `LiveRolloutError`).
Also `promote` and `abandon` of a canary. Must not decide pass or fail (the retrieval gate's)
nor delete documents (the executor's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kbctl.apply.verification import differences
from kbctl.errors import KbctlError, ProtocolError, VerificationError
from kbctl.model import KbEntry, LiveAgent, RagSettings
from kbctl.plan.types import AgentPlan
from kbctl.provider.base import AgentBranchesApi, BranchInfo

BRANCH_PREFIX = "kbctl/"
#: The share main answers when no canary runs.
ALL_TRAFFIC = 100.0


class LiveRolloutError(KbctlError):
    """A canary of this environment is live: finish it or roll it back first (exit 1)."""


def marker(project: str, environment: str) -> str:
    """What a kbctl branch's description starts with: `kbctl:<project>/<environment>`."""
    return f"kbctl:{project}/{environment}"


def ours(branches: Sequence[BranchInfo], project: str, environment: str) -> list[BranchInfo]:
    """The unarchived branches this environment's rollouts made."""
    mark = marker(project, environment)
    return [
        b
        for b in branches
        if not b.is_archived
        and b.name.startswith(BRANCH_PREFIX)
        and (b.description == mark or b.description.startswith(mark + " "))
    ]


def live_canary(
    api: AgentBranchesApi, agent_id: str, project: str, environment: str
) -> BranchInfo | None:
    """This environment's kbctl branch that answers traffic now, if any."""
    for branch in ours(api.branches(agent_id), project, environment):
        if branch.live_percentage > 0:
            return branch
    return None


def live_rollout_error(environment: str, agent_id: str, branch: BranchInfo) -> LiveRolloutError:
    """The refusal to start a second rollout beside a live canary."""
    return LiveRolloutError(
        f"A canary rollout is live for agent {agent_id}: branch {branch.name} answers "
        f"{branch.live_percentage:g}% of the traffic",
        detail="kbctl starts no second rollout while one is live.",
        hint=f"Finish it with `kbctl promote -e {environment}`, or drop it with "
        f"`kbctl rollback -e {environment}`, then plan again.",
    )


def refuse_live_rollout(
    api: AgentBranchesApi, agent_id: str, project: str, environment: str
) -> None:
    """Raise `LiveRolloutError` when a canary of this environment is live."""
    branch = live_canary(api, agent_id, project, environment)
    if branch is not None:
        raise live_rollout_error(environment, agent_id, branch)


@dataclass(frozen=True, slots=True)
class Staged:
    """A branch this run made: its id and name."""

    id: str
    name: str


class BranchStage:
    """The branch side of one apply with `rollout: branch`."""

    def __init__(self, api: AgentBranchesApi, plan: AgentPlan, run_id: str) -> None:
        self._api = api
        self._plan = plan
        self._run_id = run_id

    @property
    def _mark(self) -> str:
        return marker(self._plan.project, self._plan.environment)

    def clear_stale(self) -> list[str]:
        """Archive the kbctl branches a killed run left (never merged: they may be unchecked);
        their names. A live canary stops the run instead.

        Raises:
            LiveRolloutError: a kbctl branch of this environment answers traffic.
            ApiError: listing or archiving failed.
        """
        plan = self._plan
        archived: list[str] = []
        for branch in ours(self._api.branches(plan.agent_id), plan.project, plan.environment):
            if branch.live_percentage > 0:
                raise live_rollout_error(plan.environment, plan.agent_id, branch)
            self._api.archive_branch(plan.agent_id, branch.id)
            archived.append(branch.name)
        return archived

    def create(
        self, main: LiveAgent, entries: tuple[KbEntry, ...], rag: RagSettings | None
    ) -> Staged:
        """A branch from main's head carrying `entries` and `rag`, read back and verified.

        Raises:
            VerificationError: the branch's head is not what was sent.
            ApiError: the API refused.
        """
        plan = self._plan
        if main.version_id is None:
            raise ProtocolError(
                f"The API did not say which version agent {plan.agent_id} is at",
                hint="A branch rollout needs the agent's version_id; use rollout: direct.",
            )
        taken = {b.name for b in self._api.branches(plan.agent_id, include_archived=True)}
        base = f"{BRANCH_PREFIX}{plan.fingerprint[:12]}"
        name = base
        n = 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        branch_id = self._api.create_branch(
            plan.agent_id,
            parent_version_id=main.version_id,
            name=name,
            description=f"{self._mark} plan {plan.fingerprint[:12]} run {self._run_id}",
            knowledge_base=entries,
            rag=rag,
        )
        head = self._api.get_agent(plan.agent_id, branch_id)
        problems = differences(head, entries, rag)
        if problems:
            raise VerificationError(
                f"Branch {name} of agent {plan.agent_id} does not carry what kbctl sent",
                detail="\n".join(problems),
                hint="Run kbctl apply again; the branch is archived first.",
            )
        return Staged(branch_id, name)

    def archive(self, staged: Staged) -> None:
        """Archive a branch this run made (after failed checks or a failed merge)."""
        self._api.archive_branch(self._plan.agent_id, staged.id)

    def merge(self, staged: Staged, main_branch_id: str) -> LiveAgent:
        """Merge the checked branch into main (archiving it); main's new head."""
        return self._api.merge(self._plan.agent_id, staged.id, main_branch_id)

    def deploy(self, staged: Staged, main_branch_id: str, percent: int) -> dict[str, float]:
        """Send `percent` of the traffic to the checked branch, the rest to main."""
        split = {staged.id: float(percent), main_branch_id: ALL_TRAFFIC - percent}
        return self._api.deploy(self._plan.agent_id, split)
