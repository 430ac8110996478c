"""The agent endpoints over the wire: read an agent, and the one PATCH of its knowledge base.

Owns the agent paths and the PATCH body (the complete `knowledge_base` array and the managed RAG
fields, nothing else). An answer without the knowledge base or RAG settings is a protocol error
(`shapes.agent`), never an empty list. It must not decide what the array holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from kbctl.errors import NotFoundError
from kbctl.model import KbEntry, LiveAgent, RagSettings
from kbctl.provider.elevenlabs.shapes import AGENTS, agent, renamed, seg
from kbctl.provider.http import ApiClient
from kbctl.provider.wire import answer, reading


class Agents:
    """The agent endpoints, through one `ApiClient`."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    def get(self, agent_id: str) -> LiveAgent:
        """Read the agent (one GET)."""
        path = f"{AGENTS}/{seg(agent_id)}"
        try:
            data = self._client.get_json(path, route="GET /v1/convai/agents/{agent_id}")
        except NotFoundError as exc:
            raise self._not_found(exc, agent_id) from None
        with reading("GET", path):
            return agent(data, agent_id)

    def version_description(self, agent_id: str, version_id: str) -> str | None:
        """`GET …/agents/{id}/versions/{version_id}` → its `version_description`."""
        path = f"{AGENTS}/{seg(agent_id)}/versions/{seg(version_id)}"
        data = self._client.get_json(
            path, route="GET /v1/convai/agents/{agent_id}/versions/{version_id}"
        )
        with reading("GET", path):
            return answer(data).opt_text("version_description")

    def update(
        self,
        agent_id: str,
        knowledge_base: Sequence[KbEntry],
        rag: RagSettings | None,
        description: str,
    ) -> LiveAgent:
        """One PATCH with the complete `knowledge_base` array and the managed RAG fields."""
        prompt: dict[str, object] = {
            "knowledge_base": [
                {
                    "type": e.doc_type.value,
                    "name": e.name,
                    "id": e.id,
                    "usage_mode": e.usage_mode.value,
                }
                for e in knowledge_base
            ]
        }
        rag_fields = dict(rag.items()) if rag is not None else {}
        if rag_fields:
            prompt["rag"] = rag_fields
        body = {
            "conversation_config": {"agent": {"prompt": prompt}},
            "version_description": description,
        }
        path = f"{AGENTS}/{seg(agent_id)}"
        try:
            data = self._client.send_json(
                "PATCH", path, body, route="PATCH /v1/convai/agents/{agent_id}"
            )
        except NotFoundError as exc:
            if exc.code and ("document" in exc.code or "knowledge" in exc.code):
                raise  # an id in the array the API does not know, not the agent
            raise self._not_found(exc, agent_id) from None
        with reading("PATCH", path):
            return agent(data, agent_id)

    def _not_found(self, exc: NotFoundError, agent_id: str) -> NotFoundError:
        return renamed(
            exc,
            f"Agent {agent_id} not found in this workspace",
            f"Check the environment's agent_id, and that {self._client.api_key_env} and the "
            "base URL belong to the agent's workspace (residency regions are separate).",
        )
