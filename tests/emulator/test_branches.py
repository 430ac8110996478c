"""Agent branches, merges and deployments: a branch from a version with configuration changes,
reads and writes with `branch_id`, three-way merges (preview, conflicts, archive), traffic
splits, and branches in dependents and deletes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from kbctl.emulator import World
from tests.emulator.conftest import AGENTS, KB, create_text, strict, world_of

A = f"{AGENTS}/agent_a"


def kb_body(*doc_ids: str) -> dict:
    kb = [{"type": "text", "name": d, "id": d, "usage_mode": "auto"} for d in doc_ids]
    return {"agent": {"prompt": {"knowledge_base": kb}}}


def kb_ids(agent: dict) -> list[str]:
    return [e["id"] for e in agent["conversation_config"]["agent"]["prompt"]["knowledge_base"]]


def branch(client: httpx.Client, name: str = "try", **extra: object) -> tuple[str, str]:
    head = client.get(A).json()["version_id"]
    body = {"parent_version_id": head, "name": name, "description": "staging", **extra}
    r = client.post(f"{A}/branches", json=body)
    assert r.status_code == 200, r.text
    return r.json()["created_branch_id"], r.json()["created_version_id"]


@pytest.fixture
def main_doc(client: httpx.Client, world: World) -> str:
    world.create_agent("agent_a", rag={"enabled": True})
    doc = create_text(client, name="old")
    assert client.patch(A, json={"conversation_config": kb_body(doc)}).status_code == 200
    return doc


def test_branch_from_version_with_changes(client: httpx.Client, main_doc: str) -> None:
    new = create_text(client, name="new")
    before = client.get(A).json()
    bid, vid = branch(client, conversation_config=kb_body(new))
    assert bid.startswith("agtbrch_") and vid.startswith("agtvrsn_")
    on_branch = client.get(A, params={"branch_id": bid}).json()
    assert on_branch["branch_id"] == bid and on_branch["version_id"] == vid
    assert kb_ids(on_branch) == [new]
    assert on_branch["main_branch_id"] == before["branch_id"]
    # the rest of the configuration comes from the parent version
    assert on_branch["conversation_config"]["agent"]["prompt"]["rag"]["enabled"] is True
    assert kb_ids(client.get(A).json()) == [main_doc]  # main untouched
    meta = client.get(f"{A}/versions/{vid}").json()
    assert meta["branch_id"] == bid
    assert meta["parents"]["out_of_branch_parent_id"] == before["version_id"]


def test_patch_and_get_with_branch_id(client: httpx.Client, main_doc: str) -> None:
    bid, vid = branch(client)
    other = create_text(client)
    r = client.patch(A, params={"branch_id": bid}, json={"conversation_config": kb_body(other)})
    assert r.status_code == 200 and r.json()["branch_id"] == bid
    assert r.json()["version_id"] != vid
    assert kb_ids(client.get(A, params={"branch_id": bid}).json()) == [other]
    assert kb_ids(client.get(A).json()) == [main_doc]
    ghost = client.get(A, params={"branch_id": "agtbrch_ghost"})
    assert ghost.status_code == 404 and ghost.json()["detail"]["status"] == "branch_not_found"


def test_branch_names_are_unique_and_unknown_version_is_404(
    client: httpx.Client, main_doc: str
) -> None:
    branch(client, "one")
    head = client.get(A).json()["version_id"]
    again = client.post(
        f"{A}/branches", json={"parent_version_id": head, "name": "one", "description": ""}
    )
    assert again.status_code == 409
    ghost = client.post(
        f"{A}/branches", json={"parent_version_id": "agtvrsn_x", "name": "two", "description": ""}
    )
    assert ghost.status_code == 404
    missing = client.post(f"{A}/branches", json={"name": "three"})
    assert missing.status_code == 422
    assert {e["loc"][-1] for e in missing.json()["detail"]} == {"parent_version_id", "description"}


def test_get_list_and_archive(client: httpx.Client, main_doc: str) -> None:
    from elevenlabs.types import AgentBranchResponse, ListResponseAgentBranchSummary

    bid, vid = branch(client)
    got = client.get(f"{A}/branches/{bid}").json()
    strict(AgentBranchResponse, got)
    assert got["name"] == "try" and got["is_archived"] is False
    assert got["parent_branch"]["id"] == client.get(A).json()["branch_id"]
    assert [v["id"] for v in got["most_recent_versions"]] == [vid]
    listing = client.get(f"{A}/branches").json()
    strict(ListResponseAgentBranchSummary, listing)
    assert [b["name"] for b in listing["results"]] == ["Main", "try"]
    archived = client.patch(f"{A}/branches/{bid}", json={"is_archived": True}).json()
    assert archived["is_archived"] is True
    assert [b["name"] for b in client.get(f"{A}/branches").json()["results"]] == ["Main"]
    every = client.get(f"{A}/branches", params={"include_archived": "true"}).json()["results"]
    assert len(every) == 2
    main = every[0]["id"]
    refused = client.patch(f"{A}/branches/{main}", json={"is_archived": True})
    assert refused.status_code == 400
    write = client.patch(A, params={"branch_id": bid}, json={"name": "x"})
    assert write.status_code == 400 and write.json()["detail"]["status"] == "branch_archived"


def test_merge_into_main_and_archive(client: httpx.Client, main_doc: str) -> None:
    new = create_text(client, name="new")
    bid, _ = branch(client, conversation_config=kb_body(new))
    main = client.get(A).json()["branch_id"]
    preview = client.get(f"{A}/branches/{bid}/merge-preview", params={"target_branch_id": main})
    assert preview.status_code == 200
    assert kb_ids(preview.json()) == [new] and preview.json()["conflicts"] == []
    assert kb_ids(client.get(A).json()) == [main_doc]  # a preview changes nothing
    r = client.post(
        f"{A}/branches/{bid}/merge",
        params={"target_branch_id": main},
        json={"archive_source_branch": True},
    )
    assert r.status_code == 200, r.text
    merged = client.get(A).json()
    assert kb_ids(merged) == [new] and merged["version_id"] == r.json()["version_id"]
    meta = client.get(f"{A}/versions/{merged['version_id']}").json()
    assert meta["parents"]["merged_from_branch_id"] == bid
    source = client.get(f"{A}/branches/{bid}").json()
    assert source["is_archived"] is True
    # the archived branch no longer holds the old document: it can go
    assert client.delete(f"{KB}/{main_doc}").status_code == 200


def test_three_way_merge_keeps_main_changes_and_reports_conflicts(
    client: httpx.Client, main_doc: str
) -> None:
    new = create_text(client, name="new")
    bid, _ = branch(client, conversation_config=kb_body(new))
    main = client.get(A).json()["branch_id"]
    # main changes another field meanwhile: kept by the merge
    client.patch(A, json={"conversation_config": {"agent": {"first_message": "Hi"}}})
    client.post(f"{A}/branches/{bid}/merge", params={"target_branch_id": main}, json={})
    merged = client.get(A).json()
    assert kb_ids(merged) == [new]
    assert merged["conversation_config"]["agent"]["first_message"] == "Hi"
    # both sides change the knowledge base: a conflict, unless forced
    other = create_text(client, name="other")
    bid2, _ = branch(client, "second", conversation_config=kb_body(other))
    client.patch(A, json={"conversation_config": kb_body(main_doc)})
    preview = client.get(
        f"{A}/branches/{bid2}/merge-preview", params={"target_branch_id": main}
    ).json()
    assert preview["conflicts"][0]["path"] == "agent.prompt.knowledge_base"
    assert preview["conflicts"][0]["section"] == "conversation_config"
    refused = client.post(f"{A}/branches/{bid2}/merge", params={"target_branch_id": main}, json={})
    assert refused.status_code == 409
    assert refused.json()["detail"]["status"] == "merge_conflict"
    forced = client.post(
        f"{A}/branches/{bid2}/merge", params={"target_branch_id": main}, json={"force": True}
    )
    assert forced.status_code == 200 and kb_ids(client.get(A).json()) == [other]


def test_merge_into_protected_main_is_403(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(protect_main=True)
    world_of(c).create_agent("agent_a")
    bid, _ = branch(c)
    c.patch(A, params={"branch_id": bid}, json={"name": "Changed"})  # branches stay writable
    main = c.get(A).json()["branch_id"]
    r = c.post(f"{A}/branches/{bid}/merge", params={"target_branch_id": main}, json={})
    assert r.status_code == 403 and r.json()["detail"]["status"] == "admin_perms_required"


def test_deployments_split_traffic(client: httpx.Client, main_doc: str) -> None:
    from elevenlabs.types import AgentDeploymentResponse, ListResponseAgentDeploymentHistoryItem

    bid, _ = branch(client)
    main = client.get(A).json()["branch_id"]
    request = {
        "branch_id": bid,
        "deployment_strategy": {"type": "percentage", "traffic_percentage": 10},
    }
    r = client.post(f"{A}/deployments", json={"deployment_request": {"requests": [request]}})
    assert r.status_code == 200, r.text
    strict(AgentDeploymentResponse, r.json())
    assert r.json()["traffic_percentage_branch_id_map"] == {bid: 10.0, main: 90.0}
    assert client.get(f"{A}/branches/{bid}").json()["current_live_percentage"] == 10.0
    refused = client.patch(f"{A}/branches/{bid}", json={"is_archived": True})
    assert refused.status_code == 400 and refused.json()["detail"]["status"] == "branch_has_traffic"
    bad = {
        "branch_id": main,
        "deployment_strategy": {"type": "percentage", "traffic_percentage": 50},
    }
    wrong = client.post(f"{A}/deployments", json={"requests": [bad]})  # the bare shape works too
    assert wrong.status_code == 400 and wrong.json()["detail"]["status"] == "invalid_traffic_split"
    back = {
        "branch_id": main,
        "deployment_strategy": {"type": "percentage", "traffic_percentage": 100},
    }
    assert client.post(f"{A}/deployments", json={"requests": [back]}).status_code == 200
    history = client.get(f"{A}/deployments").json()
    strict(ListResponseAgentDeploymentHistoryItem, history)
    assert [h["traffic_percentage_branch_id_map"] for h in history["results"]] == [
        {main: 100.0},
        {bid: 10.0, main: 90.0},
    ]
    assert [h["is_active"] for h in history["results"]] == [True, False]
    over = {"branch_id": bid, "deployment_strategy": {"traffic_percentage": 101}}
    assert client.post(f"{A}/deployments", json={"requests": [over]}).status_code == 422


def test_merging_a_canary_moves_its_traffic(client: httpx.Client, main_doc: str) -> None:
    bid, _ = branch(client)
    main = client.get(A).json()["branch_id"]
    request = {"branch_id": bid, "deployment_strategy": {"traffic_percentage": 25}}
    client.post(f"{A}/deployments", json={"requests": [request]})
    client.post(
        f"{A}/branches/{bid}/merge",
        params={"target_branch_id": main},
        json={"archive_source_branch": True},
    )
    live = client.get(f"{A}/deployments").json()["results"][0]
    assert live["traffic_percentage_branch_id_map"] == {main: 100.0}
    assert live["source"] == "branch_merge"


def test_dependents_list_branches_and_force_detaches_them(
    client: httpx.Client, main_doc: str
) -> None:
    staged = create_text(client, name="staged")
    bid, _ = branch(client, conversation_config=kb_body(main_doc, staged))
    deps = client.get(f"{KB}/{staged}/dependent-agents").json()
    assert [a["id"] for a in deps["agents"]] == ["agent_a"]
    assert deps["branches"] == [
        {
            "agent_id": "agent_a",
            "agent_name": "Agent",
            "branch_id": bid,
            "branch_name": "try",
            "is_main": False,
        }
    ]
    both = client.get(f"{KB}/{main_doc}/dependent-agents").json()["branches"]
    assert sorted(b["is_main"] for b in both) == [False, True]
    assert client.delete(f"{KB}/{staged}").status_code == 409  # in use on a branch
    assert client.delete(f"{KB}/{staged}", params={"force": "true"}).status_code == 200
    assert kb_ids(client.get(A, params={"branch_id": bid}).json()) == [main_doc]


def test_branches_survive_a_restart(tmp_path: object) -> None:
    from pathlib import Path

    from kbctl.clock import FakeClock
    from kbctl.emulator import open_emulator
    from tests.emulator.conftest import make_client

    url = f"emulator://{Path(str(tmp_path))}/ws"
    first = open_emulator(url, FakeClock())
    first.world.create_agent("agent_a")
    with make_client(first) as c:
        doc = create_text(c)
        bid, vid = branch(c, conversation_config=kb_body(doc))
        request = {"branch_id": bid, "deployment_strategy": {"traffic_percentage": 10}}
        c.post(f"{A}/deployments", json={"requests": [request]})
    first.close()
    second = open_emulator(url, FakeClock())
    try:
        with make_client(second) as c:
            assert c.get(A, params={"branch_id": bid}).json()["version_id"] == vid
            assert c.get(f"{A}/branches/{bid}").json()["current_live_percentage"] == 10.0
            assert c.delete(f"{KB}/{doc}").status_code == 409  # still referenced by the branch
    finally:
        second.close()
