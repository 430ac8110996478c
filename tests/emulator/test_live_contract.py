"""The contract kbctl relies on, run against the emulator always and against the real API when
`KBCTL_LIVE_API_KEY` and `KBCTL_LIVE_AGENT_ID` (a scratch agent) are set (`pytest -m live`;
`KBCTL_LIVE_BASE_URL` picks another region). Where the reference says UNCONFIRMED the checks
accept every answer the emulator can be configured to give, so a live run proves the emulator
and the API of the day agree.

A live run creates only documents and branches named with a unique `kbctl-contract-…` prefix,
puts the scratch agent's knowledge base back as it found it, and deletes what it created.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World

KB = "/v1/convai/knowledge-base"
AGENTS = "/v1/convai/agents"
TERMINAL = {
    "succeeded",
    "failed",
    "rag_limit_exceeded",
    "document_too_small",
    "cannot_index_folder",
}
BODY = (
    "The lake house opens its sauna from eight in the morning until ten at night. "
    "Towels are handed out at the reception desk next to the winter garden. "
) * 6


@dataclass
class Api:
    """One API under test: a client, a scratch agent, and how to wait on it."""

    client: httpx.Client
    agent_id: str
    live: bool
    advance: Callable[[float], None]
    prefix: str = field(default_factory=lambda: f"kbctl-contract-{uuid.uuid4().hex[:8]}")
    created: list[str] = field(default_factory=list)

    def wait(self, what: Callable[[], bool], seconds: float = 120.0) -> None:
        """Until `what()` holds (real time against the API, virtual time in the emulator)."""
        deadline = time.monotonic() + seconds
        while not what():
            assert time.monotonic() < deadline, "timed out"
            self.advance(2.0)

    def create_text(self, text: str, suffix: str) -> str:
        r = self.client.post(f"{KB}/text", json={"text": text, "name": f"{self.prefix} {suffix}"})
        assert r.status_code == 200, r.text
        doc_id = str(r.json()["id"])
        self.created.append(doc_id)
        return doc_id

    def index(self, doc_id: str, model: str) -> dict:
        r = self.client.post(f"{KB}/{doc_id}/rag-index", json={"model": model})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def indexed(self, doc_id: str, model: str) -> dict:
        state: dict = {}

        def done() -> bool:
            state.update(self.index(doc_id, model))
            return state["status"] in TERMINAL

        self.wait(done)
        return state


def _emulator() -> Iterator[Api]:
    clock = FakeClock()
    world = World(EmulatorConfig(index_seconds=5), clock)
    world.create_agent("agent_contract", rag={"enabled": True})
    app = EmulatorApp(world)
    client = httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://emulator",
        headers={"xi-api-key": "contract"},
    )
    yield Api(client, "agent_contract", live=False, advance=clock.advance)
    client.close()
    assert app.internal_errors == []


def _live() -> Iterator[Api]:
    key = os.environ.get("KBCTL_LIVE_API_KEY")
    agent_id = os.environ.get("KBCTL_LIVE_AGENT_ID")
    if not key or not agent_id:
        pytest.skip("set KBCTL_LIVE_API_KEY and KBCTL_LIVE_AGENT_ID to run against the real API")
    base_url = os.environ.get("KBCTL_LIVE_BASE_URL", "https://api.elevenlabs.io")
    client = httpx.Client(base_url=base_url, headers={"xi-api-key": key}, timeout=60)
    api = Api(client, agent_id, live=True, advance=time.sleep)
    before = client.get(f"{AGENTS}/{agent_id}")
    assert before.status_code == 200, before.text
    prompt = before.json()["conversation_config"]["agent"]["prompt"]
    try:
        yield api
    finally:
        client.patch(  # put the scratch agent's knowledge base back
            f"{AGENTS}/{agent_id}",
            json={
                "conversation_config": {
                    "agent": {"prompt": {"knowledge_base": prompt["knowledge_base"]}}
                }
            },
        )
        for doc_id in api.created:
            client.delete(f"{KB}/{doc_id}", params={"force": "true"})
        client.close()


@pytest.fixture(params=["emulator", pytest.param("live", marks=pytest.mark.live)])
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    yield from (_live() if request.param == "live" else _emulator())


def agent_model(api: Api) -> str:
    agent = api.client.get(f"{AGENTS}/{api.agent_id}").json()
    return str(agent["conversation_config"]["agent"]["prompt"]["rag"]["embedding_model"])


def attach(api: Api, *doc_ids: str) -> dict:
    agent = api.client.get(f"{AGENTS}/{api.agent_id}").json()
    kb = list(agent["conversation_config"]["agent"]["prompt"]["knowledge_base"])
    kb = [e for e in kb if e["id"] not in doc_ids]
    kb += [{"type": "text", "name": d, "id": d, "usage_mode": "auto"} for d in doc_ids]
    body = {"conversation_config": {"agent": {"prompt": {"knowledge_base": kb}}}}
    r = api.client.patch(f"{AGENTS}/{api.agent_id}", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def detach(api: Api, *doc_ids: str) -> None:
    agent = api.client.get(f"{AGENTS}/{api.agent_id}").json()
    kb = agent["conversation_config"]["agent"]["prompt"]["knowledge_base"]
    body = {
        "conversation_config": {
            "agent": {"prompt": {"knowledge_base": [e for e in kb if e["id"] not in doc_ids]}}
        }
    }
    assert api.client.patch(f"{AGENTS}/{api.agent_id}", json=body).status_code == 200


def test_document_lifecycle(api: Api) -> None:
    doc = api.create_text(BODY, "lifecycle")
    detail = api.client.get(f"{KB}/{doc}").json()
    assert detail["type"] == "text" and detail["id"] == doc
    assert set(detail["metadata"]) >= {
        "created_at_unix_secs",
        "last_updated_at_unix_secs",
        "size_bytes",
    }
    content = api.client.get(f"{KB}/{doc}/content")
    assert content.status_code == 200 and "sauna" in content.text
    assert not content.headers["content-type"].startswith("application/json")
    listed = api.client.get(KB, params={"search": api.prefix, "page_size": 100}).json()
    assert doc in {d["id"] for d in listed["documents"]} and "has_more" in listed
    assert api.client.delete(f"{KB}/{doc}").status_code in (200, 204)
    assert api.client.get(f"{KB}/{doc}").status_code == 404


def test_indexing_batch_and_index_delete(api: Api) -> None:
    model = agent_model(api)
    doc = api.create_text(BODY, "index")
    assert api.client.get(f"{KB}/{doc}/rag-index").json()["indexes"] == []
    done = api.indexed(doc, model)
    assert done["status"] == "succeeded" and done["progress_percentage"] == 100
    items = [{"document_id": doc, "create_if_missing": False, "model": model}]
    batch = api.client.post(f"{KB}/rag-index", json={"items": items}).json()
    (result,) = batch.values()
    assert result["status"] == "success" and result["data"]["id"] == done["id"]
    gone = api.client.delete(f"{KB}/{doc}/rag-index/{done['id']}")
    assert gone.status_code == 200 and gone.json()["id"] == done["id"]
    remaining = api.client.get(f"{KB}/{doc}/rag-index").json()["indexes"]
    assert all(i["id"] != done["id"] or i["status"] != "succeeded" for i in remaining)


def test_small_documents_are_too_small(api: Api) -> None:
    doc = api.create_text("Too short to index.", "small")
    assert api.indexed(doc, agent_model(api))["status"] == "document_too_small"


def test_in_place_content_edit(api: Api) -> None:
    doc = api.create_text(BODY, "edit")
    before = api.client.get(f"{KB}/{doc}").json()
    api.advance(2.0)
    r = api.client.patch(f"{KB}/{doc}", json={"content": BODY + " Closed on Mondays."})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["id"] == doc and after["name"] == before["name"]
    assert after["metadata"]["size_bytes"] > before["metadata"]["size_bytes"]
    assert (
        after["metadata"]["last_updated_at_unix_secs"]
        >= before["metadata"]["last_updated_at_unix_secs"]
    )
    assert "Mondays" in api.client.get(f"{KB}/{doc}/content").text


def test_attach_dependents_delete_refusal_and_rag_query(api: Api) -> None:
    model = agent_model(api)
    doc = api.create_text(BODY, "attached")
    api.indexed(doc, model)
    agent = attach(api, doc)
    assert doc in {
        e["id"] for e in agent["conversation_config"]["agent"]["prompt"]["knowledge_base"]
    }
    deps = api.client.get(f"{KB}/{doc}/dependent-agents").json()
    assert api.agent_id in {a["id"] for a in deps["agents"]}
    refused = api.client.delete(f"{KB}/{doc}")
    assert 400 <= refused.status_code < 500 and refused.json()["detail"]["status"]
    rag_enabled = agent["conversation_config"]["agent"]["prompt"]["rag"]["enabled"]
    answer = api.client.post(
        f"{AGENTS}/{api.agent_id}/knowledge-base/rag-query",
        json={"query": "when is the sauna open"},
    )
    if answer.status_code in (404, 405):
        pytest.skip("this deployment has no rag-query endpoint")
    assert answer.status_code == 200, answer.text
    chunks = answer.json()["chunks"]
    if rag_enabled:
        assert doc in {c["document_id"] for c in chunks}
    for chunk in chunks:
        assert set(chunk) >= {
            "document_id",
            "document_name",
            "source_url",
            "chunk_id",
            "text",
            "vector_distance",
            "content_format",
            "document_type",
        }
    detach(api, doc)

    def deleted() -> bool:  # the API may keep the dependency for a few seconds
        return api.client.delete(f"{KB}/{doc}").status_code in (200, 204)

    api.wait(deleted, seconds=90)


def test_branch_carries_its_own_knowledge_base(api: Api) -> None:
    doc = api.create_text(BODY, "branch")
    head = api.client.get(f"{AGENTS}/{api.agent_id}").json()
    kb = [{"type": "text", "name": doc, "id": doc, "usage_mode": "auto"}]
    created = api.client.post(
        f"{AGENTS}/{api.agent_id}/branches",
        json={
            "parent_version_id": head["version_id"],
            "name": api.prefix,
            "description": "kbctl contract test",
            "conversation_config": {"agent": {"prompt": {"knowledge_base": kb}}},
        },
    )
    assert created.status_code == 200, created.text
    branch_id = created.json()["created_branch_id"]
    try:
        on_branch = api.client.get(
            f"{AGENTS}/{api.agent_id}", params={"branch_id": branch_id}
        ).json()
        assert on_branch["branch_id"] == branch_id
        ids = [
            e["id"] for e in on_branch["conversation_config"]["agent"]["prompt"]["knowledge_base"]
        ]
        assert ids == [doc]
        main = api.client.get(f"{AGENTS}/{api.agent_id}").json()
        assert doc not in {
            e["id"] for e in main["conversation_config"]["agent"]["prompt"]["knowledge_base"]
        }
        deps = api.client.get(f"{KB}/{doc}/dependent-agents").json()
        assert branch_id in {b["branch_id"] for b in deps.get("branches") or []}
    finally:
        archived = api.client.patch(
            f"{AGENTS}/{api.agent_id}/branches/{branch_id}", json={"is_archived": True}
        )
        assert archived.status_code == 200, archived.text
