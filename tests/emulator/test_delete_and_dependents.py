"""Delete (refused while in use, `force` detaches everywhere), bulk delete, dependent agents."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from kbctl.emulator import World
from tests.emulator.conftest import AGENTS, KB, attach, create_text, world_of


def test_delete_unused_document(client: httpx.Client) -> None:
    doc = create_text(client)
    r = client.delete(f"{KB}/{doc}")
    assert r.status_code == 200
    assert r.json() is None
    assert client.get(f"{KB}/{doc}").status_code == 404


def test_delete_unknown_is_404_with_json(client: httpx.Client) -> None:
    r = client.delete(f"{KB}/nope")
    assert r.status_code == 404
    assert r.json()["detail"]["status"] == "document_not_found"


def test_delete_in_use_refused_then_forced(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    world.create_agent("agent_b")
    doc = create_text(client)
    keep = create_text(client, "keep me", "keep")
    attach(client, "agent_a", doc, keep)
    attach(client, "agent_b", doc)
    versions_before = {a: world.agent(a).version_count for a in ("agent_a", "agent_b")}  # type: ignore[union-attr]

    r = client.delete(f"{KB}/{doc}", params={"force": "false"})
    assert r.status_code == 409
    assert r.json()["detail"]["status"] == "document_in_use"
    assert "agent_a" in r.json()["detail"]["message"]
    assert client.get(f"{KB}/{doc}").status_code == 200

    r = client.delete(f"{KB}/{doc}", params={"force": "true"})
    assert r.status_code == 200
    assert client.get(f"{KB}/{doc}").status_code == 404
    a = client.get(f"{AGENTS}/agent_a").json()
    assert [e["id"] for e in a["conversation_config"]["agent"]["prompt"]["knowledge_base"]] == [
        keep
    ]
    b = client.get(f"{AGENTS}/agent_b").json()
    assert b["conversation_config"]["agent"]["prompt"]["knowledge_base"] == []
    for agent_id, before in versions_before.items():
        info = world.agent(agent_id)
        assert info is not None and info.version_count == before + 1


def test_delete_in_use_status_is_configurable(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(delete_in_use_status=400)
    world_of(c).create_agent("agent_a")
    doc = create_text(c)
    attach(c, "agent_a", doc)
    r = c.delete(f"{KB}/{doc}")
    assert r.status_code == 400
    assert r.json()["detail"]["status"] == "document_in_use"


def test_force_also_removes_workflow_references(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_w")
    doc = create_text(client)
    locator = {"type": "text", "name": "d", "id": doc, "usage_mode": "auto"}
    r = client.patch(
        f"{AGENTS}/agent_w",
        json={
            "workflow": {
                "nodes": {"n1": {"type": "override_agent", "additional_knowledge_base": [locator]}}
            }
        },
    )
    assert r.status_code == 200, r.text
    assert client.delete(f"{KB}/{doc}").status_code == 409
    assert client.delete(f"{KB}/{doc}", params={"force": True}).status_code == 200
    wf = client.get(f"{AGENTS}/agent_w").json()["workflow"]
    assert wf["nodes"]["n1"]["additional_knowledge_base"] == []


def test_bulk_delete_map(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    free = create_text(client)
    used = create_text(client)
    attach(client, "agent_a", used)
    r = client.post(f"{KB}/bulk-delete", json={"document_ids": [free, used, "ghost"]})
    body = r.json()
    assert body[free] == {"status": "success", "data": {"id": free}}
    assert body[used]["status"] == "failure" and body[used]["error_status"] == "document_in_use"
    assert body[used]["error_code"] == 409
    assert body["ghost"]["error_code"] == 404
    r = client.post(f"{KB}/bulk-delete", json={"document_ids": [used], "force": True})
    assert r.json()[used]["status"] == "success"
    assert client.post(f"{KB}/bulk-delete", json={}).status_code == 422


def test_dependent_agents_direct_and_via_folder(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_direct", name="Direct")
    world.create_agent("agent_folder", rag={"enabled": True})
    folder = client.post(f"{KB}/folder", json={"name": "f"}).json()["id"]
    doc = client.post(f"{KB}/text", json={"text": "x" * 600, "parent_folder_id": folder}).json()[
        "id"
    ]
    attach(client, "agent_direct", doc)
    r = client.patch(
        f"{AGENTS}/agent_folder",
        json={
            "conversation_config": {
                "agent": {
                    "prompt": {"knowledge_base": [{"type": "folder", "name": "f", "id": folder}]}
                }
            }
        },
    )
    assert r.status_code == 200, r.text

    body = client.get(f"{KB}/{doc}/dependent-agents").json()
    by_id = {a["id"]: a for a in body["agents"]}
    assert by_id["agent_direct"]["type"] == "available"
    assert by_id["agent_direct"]["name"] == "Direct"
    assert by_id["agent_direct"]["referenced_resource_ids"] is None
    assert by_id["agent_folder"]["referenced_resource_ids"] == [folder]
    assert body["has_more"] is False and body["next_cursor"] is None
    assert {b["agent_id"] for b in body["branches"]} == {"agent_direct", "agent_folder"}
    assert all(b["is_main"] for b in body["branches"])

    direct = client.get(f"{KB}/{doc}/dependent-agents", params={"dependent_type": "direct"}).json()
    assert [a["id"] for a in direct["agents"]] == ["agent_direct"]
    bulk = client.post(f"{KB}/dependent-agents", json={"document_ids": [folder]}).json()
    assert [a["id"] for a in bulk["agents"]] == ["agent_folder"]
    summary = client.get(KB, params={"types": "text"}).json()["documents"][0]
    assert {a["id"] for a in summary["dependent_agents"]} == {"agent_direct", "agent_folder"}


def test_dependent_agents_pagination(client: httpx.Client, world: World) -> None:
    doc = create_text(client)
    for i in range(5):
        world.create_agent(f"agent_{i}")
        attach(client, f"agent_{i}", doc)
    first = client.get(f"{KB}/{doc}/dependent-agents", params={"page_size": 3}).json()
    assert first["has_more"] is True
    second = client.get(
        f"{KB}/{doc}/dependent-agents", params={"page_size": 3, "cursor": first["next_cursor"]}
    ).json()
    assert second["has_more"] is False
    ids = [a["id"] for a in first["agents"] + second["agents"]]
    assert sorted(ids) == [f"agent_{i}" for i in range(5)]


def test_folder_delete_needs_force_and_cascades(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a", rag={"enabled": True})
    folder = client.post(f"{KB}/folder", json={"name": "f"}).json()["id"]
    inner = client.post(f"{KB}/text", json={"text": "x", "parent_folder_id": folder}).json()["id"]
    r = client.delete(f"{KB}/{folder}")
    assert r.status_code == 409 and r.json()["detail"]["status"] == "folder_not_empty"
    assert client.delete(f"{KB}/{folder}", params={"force": True}).status_code == 200
    assert client.get(f"{KB}/{inner}").status_code == 404


def test_dependent_agents_unknown_document_is_404(client: httpx.Client) -> None:
    assert client.get(f"{KB}/nope/dependent-agents").status_code == 404
