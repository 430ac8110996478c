"""Agent endpoints: create, get (full model), list, summaries, PATCH merge semantics, versions."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from elevenlabs import GetAgentResponseModel
from elevenlabs.types import (
    AgentBranchSummary,
    AgentVersionMetadata,
    GetAgentsPageResponseModel,
)

from kbctl.clock import FakeClock
from kbctl.emulator import World
from tests.emulator.conftest import AGENTS, KB, attach, create_text, strict, world_of


def prompt(agent: dict) -> dict:
    return dict(agent["conversation_config"]["agent"]["prompt"])


def test_create_and_get_full_agent(client: httpx.Client, clock: FakeClock) -> None:
    r = client.post(
        f"{AGENTS}/create",
        json={
            "name": "Support",
            "conversation_config": {"agent": {"prompt": {"prompt": "Be kind"}}},
            "tags": ["kb"],
        },
    )
    assert r.status_code == 200, r.text
    agent_id = r.json()["agent_id"]
    assert set(r.json()) == {"agent_id"} and agent_id.startswith("agent_")
    agent = client.get(f"{AGENTS}/{agent_id}").json()
    strict(GetAgentResponseModel, agent)
    assert agent["name"] == "Support" and agent["tags"] == ["kb"]
    p = prompt(agent)
    assert p["prompt"] == "Be kind"
    assert p["knowledge_base"] == []
    assert p["rag"] == {
        "enabled": False,
        "embedding_model": "e5_mistral_7b_instruct",
        "max_vector_distance": 0.6,
        "max_documents_length": 50000,
        "max_retrieved_rag_chunks_count": 20,
    }
    assert agent["version_id"].startswith("agtvrsn_")
    assert agent["branch_id"] == agent["main_branch_id"]
    assert agent["branch_id"].startswith("agtbrch_")
    assert agent["metadata"]["created_at_unix_secs"] == int(clock.now())


def test_create_requires_conversation_config(client: httpx.Client) -> None:
    r = client.post(f"{AGENTS}/create", json={"name": "x"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "conversation_config"]


def test_patch_deep_merges_objects(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    client.patch(
        f"{AGENTS}/agent_a", json={"conversation_config": {"agent": {"prompt": {"prompt": "Hi"}}}}
    )
    r = client.patch(
        f"{AGENTS}/agent_a",
        json={
            "conversation_config": {
                "agent": {
                    "prompt": {
                        "rag": {
                            "enabled": True,
                            "embedding_model": "multilingual_e5_large_instruct",
                        }
                    }
                }
            }
        },
    )
    assert r.status_code == 200
    p = prompt(r.json())
    assert p["prompt"] == "Hi"
    assert p["rag"]["enabled"] is True
    assert p["rag"]["embedding_model"] == "multilingual_e5_large_instruct"
    assert p["rag"]["max_retrieved_rag_chunks_count"] == 20
    assert r.json()["conversation_config"]["tts"]["voice_id"]


def test_patch_replaces_arrays_and_fills_usage_mode(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    a, b, c = (create_text(client, "x", n) for n in "abc")
    attach(client, "agent_a", a, b)
    r = client.patch(
        f"{AGENTS}/agent_a",
        json={
            "conversation_config": {
                "agent": {"prompt": {"knowledge_base": [{"type": "text", "name": "c", "id": c}]}}
            }
        },
    )
    assert prompt(r.json())["knowledge_base"] == [
        {"type": "text", "name": "c", "id": c, "usage_mode": "auto"}
    ]


def test_patch_rejects_unknown_document_ids(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    version = client.get(f"{AGENTS}/agent_a").json()["version_id"]
    kb = [{"type": "text", "name": "x", "id": "ghost", "usage_mode": "auto"}]
    r = client.patch(
        f"{AGENTS}/agent_a",
        json={"conversation_config": {"agent": {"prompt": {"knowledge_base": kb}}}},
    )
    assert r.status_code == 400
    assert r.json()["detail"]["status"] == "knowledge_base_documents_not_found"
    assert "ghost" in r.json()["detail"]["message"]
    assert client.get(f"{AGENTS}/agent_a").json()["version_id"] == version


def test_unknown_id_status_configurable(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(unknown_kb_id_status=404)
    world_of(c).create_agent("agent_a")
    kb = [{"type": "text", "name": "x", "id": "ghost"}]
    r = c.patch(
        f"{AGENTS}/agent_a",
        json={"conversation_config": {"agent": {"prompt": {"knowledge_base": kb}}}},
    )
    assert r.status_code == 404


def test_patch_validates_locators_and_rag(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    kb = [{"type": "pdf", "id": 3}]
    rag = {"max_retrieved_rag_chunks_count": 50, "embedding_model": "ada"}
    r = client.patch(
        f"{AGENTS}/agent_a",
        json={"conversation_config": {"agent": {"prompt": {"knowledge_base": kb, "rag": rag}}}},
    )
    assert r.status_code == 422
    locs = {tuple(e["loc"][-2:]) for e in r.json()["detail"]}
    assert {
        (0, "type"),
        (0, "name"),
        (0, "id"),
        ("rag", "max_retrieved_rag_chunks_count"),
        ("rag", "embedding_model"),
    } <= locs


def test_every_patch_is_a_new_version(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    v0 = client.get(f"{AGENTS}/agent_a").json()["version_id"]
    v1 = client.patch(f"{AGENTS}/agent_a", json={"name": "One"}).json()["version_id"]
    v2 = client.patch(f"{AGENTS}/agent_a", json={}).json()["version_id"]
    assert len({v0, v1, v2}) == 3
    old = client.get(f"{AGENTS}/agent_a", params={"version_id": v0}).json()
    assert old["name"] == "Agent" and old["version_id"] == v0
    meta = client.get(f"{AGENTS}/agent_a/versions/{v2}").json()
    strict(AgentVersionMetadata, meta)
    assert meta["seq_no_in_branch"] == 2 and meta["parents"]["in_branch_parent_id"] == v1
    assert client.get(f"{AGENTS}/agent_a/versions/nope").status_code == 404


def test_branch_id_main_only(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    main = client.get(f"{AGENTS}/agent_a").json()["main_branch_id"]
    assert client.get(f"{AGENTS}/agent_a", params={"branch_id": main}).status_code == 200
    r = client.patch(f"{AGENTS}/agent_a", params={"branch_id": "agtbrch_other"}, json={})
    assert r.status_code == 404 and r.json()["detail"]["status"] == "branch_not_found"
    branches = client.get(f"{AGENTS}/agent_a/branches").json()
    (branch,) = branches["results"]
    strict(AgentBranchSummary, branch)
    assert branch["id"] == main


def test_version_description_is_kept(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    v = client.patch(f"{AGENTS}/agent_a", json={"version_description": "kbctl apply"}).json()
    meta = client.get(f"{AGENTS}/agent_a/versions/{v['version_id']}").json()
    assert meta["version_description"] == "kbctl apply"


def test_unknown_agent_404(client: httpx.Client) -> None:
    r = client.get(f"{AGENTS}/ghost")
    assert r.status_code == 404
    assert r.json()["detail"]["status"] == "agent_not_found"
    assert client.patch(f"{AGENTS}/ghost", json={}).status_code == 404


def test_list_agents_pages_and_filters(
    client: httpx.Client, world: World, clock: FakeClock
) -> None:
    for i in range(5):
        world.create_agent(f"agent_{i}", name=f"Bot {i}")
        clock.advance(1)
    first = client.get(AGENTS, params={"page_size": 2}).json()
    strict(GetAgentsPageResponseModel, first)
    assert [a["agent_id"] for a in first["agents"]] == ["agent_4", "agent_3"]
    assert first["has_more"] is True
    ids = [a["agent_id"] for a in first["agents"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(AGENTS, params={"page_size": 2, "cursor": cursor}).json()
        ids += [a["agent_id"] for a in page["agents"]]
        cursor = page["next_cursor"]
    assert sorted(ids) == [f"agent_{i}" for i in range(5)]
    found = client.get(AGENTS, params={"search": "bot 3"}).json()["agents"]
    assert [a["agent_id"] for a in found] == ["agent_3"]
    assert client.get(AGENTS, params={"page_size": 500}).status_code == 422


def test_agent_summaries(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a", name="A")
    body = client.get(f"{AGENTS}/summaries", params={"agent_ids": ["agent_a", "ghost"]}).json()
    assert body["agent_a"]["status"] == "success" and body["agent_a"]["data"]["name"] == "A"
    assert body["ghost"]["status"] == "failure" and body["ghost"]["error_code"] == 404


def test_knowledge_base_size(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    doc = create_text(client, "x" * 5000)
    attach(client, "agent_a", doc)
    r = client.get("/v1/convai/agent/agent_a/knowledge-base/size")
    assert r.json() == {"number_of_pages": 2.5}
    assert client.get("/v1/convai/agent/ghost/knowledge-base/size").status_code == 404


def test_folder_needs_rag_enabled(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    folder = client.post(f"{KB}/folder", json={"name": "f"}).json()["id"]
    client.post(f"{KB}/text", json={"text": "x" * 800, "parent_folder_id": folder})
    kb = [{"type": "folder", "name": "f", "id": folder}]
    prompt: dict[str, object] = {"knowledge_base": kb}
    body = {"conversation_config": {"agent": {"prompt": prompt}}}
    r = client.patch(f"{AGENTS}/agent_a", json=body)
    assert r.status_code == 400 and r.json()["detail"]["status"] == "folder_requires_rag"
    prompt["rag"] = {"enabled": True}
    assert client.patch(f"{AGENTS}/agent_a", json=body).status_code == 200


def test_delete_and_duplicate_agent(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a", name="A")
    doc = create_text(client)
    attach(client, "agent_a", doc)
    copy = client.post(f"{AGENTS}/agent_a/duplicate", json={}).json()["agent_id"]
    got = client.get(f"{AGENTS}/{copy}").json()
    assert got["name"] == "A (copy)" and prompt(got)["knowledge_base"][0]["id"] == doc
    assert client.delete(f"{AGENTS}/agent_a").status_code == 200
    assert client.get(f"{AGENTS}/agent_a").status_code == 404


def test_world_seeding_api(world: World) -> None:
    created = world.create_agent("agent_x", name="X", rag={"enabled": True})
    assert created["agent_id"] == "agent_x"
    with pytest.raises(ValueError, match="exists"):
        world.create_agent("agent_x")
    assert world.ensure_agent("agent_x")["name"] == "X"
    doc = world.add_document("text", "n", "content")
    world.set_knowledge_base("agent_x", [{"type": "text", "name": "n", "id": doc}])
    info = world.agent("agent_x")
    assert info is not None
    assert info.rag["enabled"] is True
    assert info.knowledge_base == ({"type": "text", "name": "n", "id": doc, "usage_mode": "auto"},)
    assert [d.id for d in world.documents()] == [doc]
    assert world.agent("nope") is None and world.document("nope") is None


def test_world_views_are_copies(world: World) -> None:
    world.create_agent("agent_a")
    info = world.agent("agent_a")
    assert info is not None
    info.conversation_config["agent"]["prompt"]["prompt"] = "tampered"  # type: ignore[index]
    got = world.get_agent("agent_a")
    assert got["conversation_config"]["agent"]["prompt"]["prompt"] == ""  # type: ignore[index]
