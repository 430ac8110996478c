"""Records → the JSON shapes of the reference (SDK 2.78.0 models) for agents: the agent, its
summary, versions, branches (summary and detail), dependents of documents and deployments.

Owns formatting only. Must not read state, the clock or the request: every derived value
(traffic, current document names, recent versions) is passed in by the caller.
"""

from __future__ import annotations

from kbctl.emulator.workspace.agent_config import DEFAULT_VOICE_ID, rename_locators
from kbctl.emulator.workspace.records import (
    Agent,
    AgentVersion,
    Branch,
    Deployment,
    Json,
    json_copy,
)
from kbctl.emulator.workspace.shapes import access_info


def dependent_agent(head: AgentVersion, agent: Agent, via: list[str] | None) -> Json:
    """An `available` dependent agent; `via` lists what a transitive dependent references."""
    return {
        "type": "available",
        "id": agent.agent_id,
        "name": head.name,
        "created_at_unix_secs": agent.created_at,
        "access_level": "admin",
        "referenced_resource_ids": via,
    }


def dependent_branch(agent: Agent, branch: Branch, head: AgentVersion) -> Json:
    """`DependentBranchInfo`: a branch whose head references the document."""
    return {
        "agent_id": agent.agent_id,
        "agent_name": head.name,
        "branch_id": branch.id,
        "branch_name": branch.name,
        "is_main": branch.id == agent.main_branch_id,
    }


def agent(agent: Agent, version: AgentVersion, names: dict[str, str] | None = None) -> Json:
    """`GetAgentResponseModel` for `version`; a copy callers may change. `names` (document id
    -> current name) rewrites the knowledge-base entries' names, for `rename_propagates`."""
    cc = json_copy(version.conversation_config)
    workflow = json_copy(version.workflow)
    if names is not None:
        rename_locators(cc, workflow, names)
    return {
        "agent_id": agent.agent_id,
        "name": version.name,
        "conversation_config": cc,
        "metadata": {
            "created_at_unix_secs": agent.created_at,
            "updated_at_unix_secs": version.committed_at,
        },
        "platform_settings": json_copy(version.platform_settings),
        "phone_numbers": [],
        "whatsapp_accounts": [],
        "workflow": workflow,
        "access_info": access_info(),
        "tags": list(version.tags),
        "version_id": version.id,
        "branch_id": version.branch_id,
        "main_branch_id": agent.main_branch_id,
    }


def agent_summary(agent: Agent, head: AgentVersion) -> Json:
    """`AgentSummaryResponseModel` (list items and the summaries map)."""
    tts = head.conversation_config.get("tts")
    voice = tts.get("voice_id") if isinstance(tts, dict) else None
    return {
        "agent_id": agent.agent_id,
        "name": head.name,
        "voice_id": voice if isinstance(voice, str) else DEFAULT_VOICE_ID,
        "tags": list(head.tags),
        "created_at_unix_secs": agent.created_at,
        "updated_at_unix_secs": agent.updated_at,
        "access_info": access_info(),
        "last_call_time_unix_secs": None,
        "archived": False,
    }


def version_metadata(version: AgentVersion) -> Json:
    """`AgentVersionMetadata` (parents: the previous version on the branch, and where a
    branch's first version or a merge came from)."""
    return {
        "id": version.id,
        "agent_id": version.agent_id,
        "branch_id": version.branch_id,
        "version_description": version.description,
        "seq_no_in_branch": version.seq_no,
        "time_committed_secs": version.committed_at,
        "parents": {"in_branch_parent_id": version.parent_id, **version.origin},
        "access_info": access_info(),
    }


def _branch_common(agent: Agent, branch: Branch, head: AgentVersion, traffic: float) -> Json:
    is_main = branch.id == agent.main_branch_id
    return {
        "id": branch.id,
        "name": branch.name,
        "agent_id": agent.agent_id,
        "description": branch.description,
        "created_at": branch.created_at,
        "last_committed_at": head.committed_at,
        "is_archived": branch.is_archived,
        "protection_status": branch.protection_status
        or ("writer_perms_required" if is_main else None),
        "auto_rebase": False,
        "access_info": access_info(),
        "current_live_percentage": traffic,
    }


def branch_summary(agent: Agent, branch: Branch, head: AgentVersion, traffic: float) -> Json:
    """`AgentBranchSummary` (list items)."""
    return {
        **_branch_common(agent, branch, head, traffic),
        "parent_branch_id": branch.parent_branch_id,
        "draft_exists": False,
        "merged_into_branch_id": branch.merged_into_branch_id,
    }


def branch_detail(
    agent: Agent,
    branch: Branch,
    head: AgentVersion,
    traffic: float,
    recent: list[AgentVersion],
) -> Json:
    """`AgentBranchResponse` (GET/PATCH of one branch); `recent` newest first."""
    parent = agent.branches.get(branch.parent_branch_id or "")
    return {
        **_branch_common(agent, branch, head, traffic),
        "parent_branch": {"id": parent.id, "name": parent.name} if parent is not None else None,
        "most_recent_versions": [version_metadata(v) for v in recent],
    }


def deployment_item(deployment: Deployment, active: bool) -> Json:
    """`AgentDeploymentHistoryItem`."""
    return {
        "id": deployment.id,
        "traffic_percentage_branch_id_map": dict(deployment.traffic),
        "deployed_at_unix_secs": deployment.deployed_at,
        "is_active": active,
        "source": deployment.source,
        "access_info": access_info(),
    }
