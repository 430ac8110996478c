"""Refusing a stale saved plan, the way Terraform does.

Owns the comparison of a plan file (`kbctl plan --out`) with a plan made again, now, from the
same manifests and the live state: the fingerprints must match (nobody changed the workspace)
and so must everything apply would do (nobody edited the manifests). Findings are left out on
purpose: the quota forecast moves on its own and the gate sees the real answer anyway. A plan
file of format 3 lists no unchanged document and no `knowledge_base`, only their counts and
digests: those are compared with the same summary of the plan made now, and when everything
matches, that plan (equal to the saved one, whole) is the one applied. Pure.
"""

from __future__ import annotations

from dataclasses import replace

from kbctl.contentdiff import without_diffs
from kbctl.errors import StalePlanError, UsageError
from kbctl.plan.planjson import unlist
from kbctl.plan.types import AgentPlan, Plan

_HINT = "Run `kbctl plan -e {env} --out PLAN.json` again, review it, then apply the new file."


def check_saved_plan(saved: Plan, fresh: Plan) -> Plan:
    """Return the saved plan when it still describes exactly what apply would do now.

    `fresh` is planned from the same manifests and the live state just read; agents only in
    `fresh` (manifests the saved plan did not cover) are left out, as Terraform applies exactly
    the saved plan. An agent the file summarised (`AgentPlan.unlisted`) is returned as planned
    now, whole, once its listed changes and digests match.

    Raises:
        UsageError: the plan file is for another environment.
        StalePlanError: the live state or the manifests changed since the plan was saved.
    """
    if saved.environment != fresh.environment:
        raise UsageError(
            f"The plan file is for environment {saved.environment!r}, not {fresh.environment!r}",
            hint=f"Pass -e {saved.environment}, or make a plan for {fresh.environment}.",
        )
    hint = _HINT.format(env=saved.environment)
    by_identity = {(a.project, a.agent_id): a for a in fresh.agents}
    problems: list[str] = []
    agents: list[AgentPlan] = []
    for agent in saved.agents:
        now = by_identity.get((agent.project, agent.agent_id))
        where = f"{agent.project} ({(now or agent).words.label(agent.agent_id)})"
        if now is None:
            problems.append(f"{where}: no manifest declares it for this environment any more")
        elif now.fingerprint != agent.fingerprint:
            problems.append(f"{where}: the live knowledge base changed since the plan was made")
        elif agent.unlisted is not None:  # compare like with like: summarised
            if _intent(unlist(now)) != _intent(agent):
                problems.append(f"{where}: the manifest changed since the plan was made")
            agents.append(now)
        elif _intent(now) != _intent(agent):
            problems.append(f"{where}: the manifest changed since the plan was made")
        else:
            agents.append(replace(agent, provider=now.provider))  # plan files do not say it
    if problems:
        raise StalePlanError("Saved plan is stale", detail="\n".join(problems), hint=hint)
    return replace(saved, agents=tuple(agents))


def _intent(plan: AgentPlan) -> tuple[object, ...]:
    """Everything apply does with a plan (all of it but the findings)."""
    return (
        plan.embedding_model,
        without_diffs(plan.changes),  # shown to the reviewer, not part of what apply does
        plan.rag_changes,
        plan.knowledge_base,
        plan.deletions,
        plan.protect,
        plan.policy,
        plan.unlisted,
    )
