"""`AgentBranches`: an agent's own retrieval (rag-query), its branches and its traffic split.

Owns the paths and wire JSON of `POST …/agents/{id}/knowledge-base/rag-query` (reference §16.1),
`…/agents/{id}/branches…` with merge (§10.3) and `…/agents/{id}/deployments` (§16.2), turned
into the model types below; wire dicts never leave this module. All HTTP goes through
`ApiClient`. Must not decide anything (which branch is kbctl's, when to merge: `kbctl.apply`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

from kbctl.model import KbEntry, LiveAgent, RagSettings
from kbctl.provider.base import AgentBranchesApi, BranchInfo, RagChunk
from kbctl.provider.elevenlabs.shapes import agent as _agent
from kbctl.provider.http import ApiClient
from kbctl.provider.wire import answer, reading

AGENTS = "/v1/convai/agents"
AGENT = "/v1/convai/agents/{agent_id}"


def _seg(ident: str) -> str:
    return quote(ident, safe="")


def _prompt(knowledge_base: Sequence[KbEntry], rag: RagSettings | None) -> dict[str, object]:
    prompt: dict[str, object] = {
        "knowledge_base": [
            {"type": e.doc_type.value, "name": e.name, "id": e.id, "usage_mode": e.usage_mode.value}
            for e in knowledge_base
        ]
    }
    fields = dict(rag.items()) if rag is not None else {}
    if fields:
        prompt["rag"] = fields
    return prompt


class AgentBranches:
    """The agent endpoints beyond one GET/PATCH: retrieval, branches, merges, deployments."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    # ---------------------------------------------------------------------------------------
    # Retrieval

    def rag_query(
        self, agent_id: str, query: str, *, branch_id: str | None = None
    ) -> tuple[RagChunk, ...]:
        """The chunks the agent (or `branch_id`'s configuration) retrieves, with its defaults.

        Raises an `ApiError` as the client maps it (404/405: the endpoint is not offered here).
        """
        path = f"{AGENTS}/{_seg(agent_id)}/knowledge-base/rag-query"
        params = {"branch_id": branch_id} if branch_id else None
        data = self._client.send_json(
            "POST",
            path,
            {"query": query, "use_agent_defaults": True},
            params=params,
            idempotent=True,  # read-only
            route=f"POST {AGENT}/knowledge-base/rag-query",
        )
        with reading("POST", path, after=""):
            return tuple(
                RagChunk(
                    document_id=chunk.text("document_id"),
                    document_name=chunk.opt_text("document_name") or "",
                    chunk_id=chunk.opt_text("chunk_id") or "",
                    text=chunk.opt_text("text") or "",
                    vector_distance=chunk.opt_number("vector_distance"),
                )
                for chunk in answer(data).opt_objs("chunks")
            )

    # ---------------------------------------------------------------------------------------
    # Branches

    def branches(self, agent_id: str, *, include_archived: bool = False) -> tuple[BranchInfo, ...]:
        """The agent's branches (main included), with their share of the traffic."""
        path = f"{AGENTS}/{_seg(agent_id)}/branches"
        params: dict[str, str | int] = {"limit": 100}
        if include_archived:
            params["include_archived"] = "true"
        data = self._client.get_json(path, params=params, route=f"GET {AGENT}/branches")
        with reading("GET", path, after=""):
            return tuple(
                BranchInfo(
                    id=branch.text("id"),
                    name=branch.opt_text("name") or "",
                    description=branch.opt_text("description") or "",
                    is_archived=branch.opt_flag("is_archived") is True,
                    live_percentage=branch.opt_number("current_live_percentage") or 0.0,
                )
                for branch in answer(data).opt_objs("results")
            )

    def get_agent(self, agent_id: str, branch_id: str) -> LiveAgent:
        """The head of one branch, read as an agent."""
        path = f"{AGENTS}/{_seg(agent_id)}"
        data = self._client.get_json(path, params={"branch_id": branch_id}, route=f"GET {AGENT}")
        with reading("GET", path, after=""):
            return _agent(data, agent_id)

    def create_branch(
        self,
        agent_id: str,
        *,
        parent_version_id: str,
        name: str,
        description: str,
        knowledge_base: Sequence[KbEntry],
        rag: RagSettings | None,
    ) -> str:
        """A branch from `parent_version_id` carrying this `knowledge_base` (and RAG fields);
        returns its id. Not retried on an ambiguous failure: the caller finds it by name."""
        path = f"{AGENTS}/{_seg(agent_id)}/branches"
        body = {
            "parent_version_id": parent_version_id,
            "name": name,
            "description": description,
            "conversation_config": {"agent": {"prompt": _prompt(knowledge_base, rag)}},
        }
        data = self._client.send_json(
            "POST", path, body, retry_conflict=False, route=f"POST {AGENT}/branches"
        )
        with reading("POST", path, after=""):
            return answer(data).text("created_branch_id")

    def archive_branch(self, agent_id: str, branch_id: str) -> None:
        """Archive a branch (the API archives branches; it does not delete them)."""
        path = f"{AGENTS}/{_seg(agent_id)}/branches/{_seg(branch_id)}"
        self._client.send_json(
            "PATCH",
            path,
            {"is_archived": True},
            idempotent=True,
            route=f"PATCH {AGENT}/branches/{{branch_id}}",
        )

    def merge(self, agent_id: str, branch_id: str, into_branch_id: str) -> LiveAgent:
        """Merge `branch_id` into `into_branch_id`, archiving it; the target's new head.

        Never `force`: a conflict (the target changed the same fields) is an error."""
        path = f"{AGENTS}/{_seg(agent_id)}/branches/{_seg(branch_id)}/merge"
        data = self._client.send_json(
            "POST",
            path,
            {"archive_source_branch": True},
            params={"target_branch_id": into_branch_id},
            retry_conflict=False,
            route=f"POST {AGENT}/branches/{{branch_id}}/merge",
        )
        with reading("POST", path, after=""):
            return _agent(data, agent_id)

    # ---------------------------------------------------------------------------------------
    # Deployments

    def deploy(self, agent_id: str, split: Mapping[str, float]) -> dict[str, float]:
        """Set the traffic split (branch id → percentage, totalling 100); the split now live."""
        path = f"{AGENTS}/{_seg(agent_id)}/deployments"
        body = {
            "requests": [
                {
                    "branch_id": branch_id,
                    "deployment_strategy": {"type": "percentage", "traffic_percentage": share},
                }
                for branch_id, share in split.items()
            ]
        }
        data = self._client.send_json(
            "POST", path, body, idempotent=True, route=f"POST {AGENT}/deployments"
        )
        with reading("POST", path, after=""):
            live = answer(data).obj_or_empty("traffic_percentage_branch_id_map")
            return {
                str(k): float(v)
                for k, v in live.raw.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }


def _conforms(api: AgentBranches) -> AgentBranchesApi:
    """Never called: makes mypy check that `AgentBranches` implements `AgentBranchesApi`."""
    return api
