"""The official SDK's branches and deployments calls, and the agent's rag-query (absent from the
SDK, so called over HTTP and checked against the SDK's own response model), unchanged against
the emulator served on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from elevenlabs import ElevenLabs
from elevenlabs.types import (
    AgentDeploymentPercentageStrategy,
    AgentDeploymentRequest,
    AgentDeploymentRequestItem,
    AgentKnowledgeBaseRagQueryResponseModel,
)

from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorConfig, EmulatorServer, build_app
from tests.emulator.conftest import LONG_TEXT, strict
from tests.emulator.test_sdk_over_socket import Recorder, checked

AGENT = "agent_sdk"
E5 = "e5_mistral_7b_instruct"
KEY = "sdk-key"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(index_seconds=0.2, api_key=KEY)
    with EmulatorServer(
        build_app(config, SystemClock(), tmp_path / "state", [AGENT]), port=0
    ) as srv:
        yield srv


@pytest.fixture
def sdk(server: EmulatorServer) -> Iterator[tuple[ElevenLabs, Recorder]]:
    recorder = Recorder()
    http = httpx.Client(timeout=10, event_hooks={"response": [recorder]})
    yield ElevenLabs(api_key=KEY, base_url=server.url, httpx_client=http), recorder
    http.close()
    assert server.app.internal_errors == []


def locator(doc_id: str) -> dict[str, str]:
    return {"type": "text", "name": doc_id, "id": doc_id, "usage_mode": "auto"}


def indexed_document(client: ElevenLabs, text: str) -> str:
    kb = client.conversational_ai.knowledge_base
    doc_id = kb.documents.create_from_text(text=text).id
    deadline = time.monotonic() + 10
    while kb.document.compute_rag_index(doc_id, model=E5).status != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return str(doc_id)


def test_branches_and_deployments_through_the_sdk(
    sdk: tuple[ElevenLabs, Recorder], server: EmulatorServer
) -> None:
    client, rec = sdk
    agents = client.conversational_ai.agents
    old = indexed_document(client, LONG_TEXT)
    new = indexed_document(client, "Parking costs 12 euros per night at the lake. " * 20)
    rag = {"enabled": True, "embedding_model": E5}
    main = checked(
        rec,
        agents.update,
        AGENT,
        conversation_config={"agent": {"prompt": {"knowledge_base": [locator(old)], "rag": rag}}},
    )

    created = checked(
        rec,
        agents.branches.create,
        AGENT,
        parent_version_id=main.version_id,
        name="kbctl/try",
        description="staged knowledge base",
        conversation_config={"agent": {"prompt": {"knowledge_base": [locator(new)]}}},
    )
    branch = checked(rec, agents.branches.get, AGENT, created.created_branch_id)
    assert branch.name == "kbctl/try" and branch.is_archived is False
    assert branch.most_recent_versions[0].id == created.created_version_id
    on_branch = checked(rec, agents.get, AGENT, branch_id=created.created_branch_id)
    assert [e.id for e in on_branch.conversation_config.agent.prompt.knowledge_base] == [new]
    listing = checked(rec, agents.branches.list, AGENT)
    assert {b.id for b in listing.results} == {main.branch_id, created.created_branch_id}

    # the agent's own retrieval, on the branch and on main
    url = f"{server.url}/v1/convai/agents/{AGENT}/knowledge-base/rag-query"
    headers = {"xi-api-key": KEY}
    answer = httpx.post(
        url,
        params={"branch_id": created.created_branch_id},
        json={"query": "how much is parking"},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    parsed = strict(AgentKnowledgeBaseRagQueryResponseModel, answer.json())
    assert isinstance(parsed, AgentKnowledgeBaseRagQueryResponseModel)
    assert {c.document_id for c in parsed.chunks} == {new}
    on_main = httpx.post(url, json={"query": "how much is parking"}, headers=headers).json()
    assert new not in {c["document_id"] for c in on_main["chunks"]}

    # canary: 10 % of the traffic on the branch
    split = checked(
        rec,
        agents.deployments.create,
        AGENT,
        deployment_request=AgentDeploymentRequest(
            requests=[
                AgentDeploymentRequestItem(
                    branch_id=created.created_branch_id,
                    deployment_strategy=AgentDeploymentPercentageStrategy(
                        type="percentage", traffic_percentage=10
                    ),
                )
            ]
        ),
    )
    assert split.traffic_percentage_branch_id_map == {
        created.created_branch_id: 10.0,
        main.branch_id: 90.0,
    }
    history = checked(rec, agents.deployments.list, AGENT)
    assert history.results[0].is_active is True

    preview = checked(
        rec,
        agents.branches.preview_merge,
        AGENT,
        created.created_branch_id,
        target_branch_id=main.branch_id,
    )
    assert [e.id for e in preview.conversation_config.agent.prompt.knowledge_base] == [new]
    agents.branches.merge(
        AGENT,
        created.created_branch_id,
        target_branch_id=main.branch_id,
        archive_source_branch=True,
    )
    merged = checked(rec, agents.get, AGENT)
    assert [e.id for e in merged.conversation_config.agent.prompt.knowledge_base] == [new]
    archived = checked(rec, agents.branches.get, AGENT, created.created_branch_id)
    assert archived.is_archived is True
    live = checked(rec, agents.deployments.list, AGENT).results[0]
    assert live.traffic_percentage_branch_id_map == {main.branch_id: 100.0}
    assert client.conversational_ai.knowledge_base.documents.delete(old) is None
