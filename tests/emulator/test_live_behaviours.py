"""Behaviours of the live API a reconciler meets (reference §16.3), each behind a setting: in-place
content edits, an extra unknown index status, the size of fetched URL pages, the dependency lag
after detaching, renames propagating into agents, and protected main branches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorConfig, World, open_emulator
from kbctl.errors import UsageError
from tests.emulator.conftest import AGENTS, KB, attach, create_text, make_client, world_of

E5 = "e5_mistral_7b_instruct"


def compute(client: httpx.Client, doc: str) -> dict:
    r = client.post(f"{KB}/{doc}/rag-index", json={"model": E5})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_content_patch_edits_in_place(client: httpx.Client, clock: FakeClock) -> None:
    doc = create_text(client, name="hours")
    compute(client, doc)
    clock.advance(10)
    before = client.get(f"{KB}/{doc}").json()
    clock.advance(60)
    edited = "We are CLOSED forever. " * 40
    r = client.patch(f"{KB}/{doc}", json={"content": edited})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["id"] == doc and after["name"] == "hours"
    assert after["metadata"]["size_bytes"] == len(edited.encode())
    assert after["metadata"]["size_bytes"] != before["metadata"]["size_bytes"]
    assert after["metadata"]["last_updated_at_unix_secs"] == int(clock.now())
    assert (
        after["metadata"]["last_updated_at_unix_secs"]
        > (before["metadata"]["last_updated_at_unix_secs"])
    )
    assert after["metadata"]["created_at_unix_secs"] == before["metadata"]["created_at_unix_secs"]
    assert client.get(f"{KB}/{doc}/content").text == edited
    assert client.get(f"{KB}/{doc}/rag-index").json() == {"indexes": []}
    assert client.get(f"{KB}/rag-index").json()["total_used_bytes"] == 0


def test_content_patch_can_keep_indexes(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(edit_drops_indexes=False, index_seconds=0)
    doc = create_text(c)
    ix = compute(c, doc)
    c.patch(f"{KB}/{doc}", json={"content": "Edited text. " * 60})
    kept = c.get(f"{KB}/{doc}/rag-index").json()["indexes"]
    assert [i["id"] for i in kept] == [ix["id"]] and kept[0]["status"] == "succeeded"


def test_index_pending_status_comes_before_processing(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    c = new_client(index_pending_status="queued", index_seconds=10)
    doc = create_text(c)
    assert compute(c, doc)["status"] == "created"
    seen = []
    for _ in range(10):
        clock.advance(1)
        seen.append(compute(c, doc)["status"])
    assert seen == ["queued"] * 4 + ["processing"] * 5 + ["succeeded"]


def test_url_content_bytes_decides_document_too_small(
    new_client: Callable[..., httpx.Client],
) -> None:
    c = new_client(url_content_bytes=100)
    doc = c.post(f"{KB}/url", json={"url": "https://example.com/faq"}).json()["id"]
    detail = c.get(f"{KB}/{doc}").json()
    assert detail["metadata"]["size_bytes"] == 100
    assert len(c.get(f"{KB}/{doc}/content").content) == 100
    assert compute(c, doc)["status"] == "document_too_small"
    big = new_client(url_content_bytes=5000)
    other = big.post(f"{KB}/url", json={"url": "https://example.com/faq"}).json()["id"]
    assert big.get(f"{KB}/{other}").json()["metadata"]["size_bytes"] == 5000
    refreshed = big.post(f"{KB}/{other}/refresh").json()
    assert refreshed["metadata"]["size_bytes"] == 5000


def test_dependency_lag_refuses_delete_for_a_while(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    c = new_client(dependency_lag_seconds=3)
    world_of(c).create_agent("agent_a")
    doc = create_text(c)
    never_used = create_text(c)
    attach(c, "agent_a", doc)
    attach(c, "agent_a")  # detached again
    assert c.get(f"{KB}/{doc}/dependent-agents").json()["agents"] == []
    r = c.delete(f"{KB}/{doc}")
    assert r.status_code == 409
    assert r.json()["detail"]["status"] == "document_has_dependent_agents"
    assert c.delete(f"{KB}/{never_used}").status_code == 200
    clock.advance(2.9)
    assert c.delete(f"{KB}/{doc}").status_code == 409
    clock.advance(0.2)
    assert c.delete(f"{KB}/{doc}").status_code == 200


def test_no_dependency_lag_by_default(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    doc = create_text(client)
    attach(client, "agent_a", doc)
    attach(client, "agent_a")
    assert client.delete(f"{KB}/{doc}").status_code == 200


@pytest.mark.parametrize("propagates", [False, True])
def test_rename_propagation(new_client: Callable[..., httpx.Client], propagates: bool) -> None:
    c = new_client(rename_propagates=propagates)
    world_of(c).create_agent("agent_a")
    doc = create_text(c, name="old name")
    version = attach(c, "agent_a", doc)["version_id"]
    c.patch(f"{KB}/{doc}", json={"name": "new name"})
    agent = c.get(f"{AGENTS}/agent_a").json()
    entry = agent["conversation_config"]["agent"]["prompt"]["knowledge_base"][0]
    assert entry["name"] == ("new name" if propagates else doc)
    assert agent["version_id"] == version  # a rename is not a new agent version


def test_protected_main_answers_403(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(protect_main=True)
    world_of(c).create_agent("agent_a")
    doc = create_text(c)
    kb = [{"type": "text", "name": "d", "id": doc}]
    body = {"conversation_config": {"agent": {"prompt": {"knowledge_base": kb}}}}
    r = c.patch(f"{AGENTS}/agent_a", json=body)
    assert r.status_code == 403
    assert r.json()["detail"]["status"] == "admin_perms_required"
    assert (
        c.get(f"{AGENTS}/agent_a").json()["conversation_config"]["agent"]["prompt"][
            "knowledge_base"
        ]
        == []
    )
    branches = c.get(f"{AGENTS}/agent_a/branches").json()["results"]
    assert branches[0]["protection_status"] == "admin_perms_required"


def test_a_branch_marked_protected_refuses_writes(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a")
    main = client.get(f"{AGENTS}/agent_a").json()["branch_id"]
    r = client.patch(
        f"{AGENTS}/agent_a/branches/{main}", json={"protection_status": "admin_perms_required"}
    )
    assert r.status_code == 200 and r.json()["protection_status"] == "admin_perms_required"
    refused = client.patch(f"{AGENTS}/agent_a", json={"name": "Renamed"})
    assert refused.status_code == 403
    assert refused.json()["detail"]["status"] == "admin_perms_required"


def test_settings_from_an_emulator_url(tmp_path: Path) -> None:
    url = (
        f"emulator://{tmp_path}/emu?index_pending_status=queued&url_content_bytes=120"
        "&dependency_lag_seconds=5&rename_propagates=yes&protect_main=1&no_rag_query=true"
        "&edit_drops_indexes=no"
    )
    app = open_emulator(url, FakeClock())
    try:
        assert app.config == EmulatorConfig(
            index_pending_status="queued",
            url_content_bytes=120,
            dependency_lag_seconds=5.0,
            rename_propagates=True,
            protect_main=True,
            no_rag_query=True,
            edit_drops_indexes=False,
        )
        with make_client(app) as c:
            doc = c.post(f"{KB}/url", json={"url": "https://example.com"}).json()["id"]
            assert c.get(f"{KB}/{doc}").json()["metadata"]["size_bytes"] == 120
    finally:
        app.close()
    with pytest.raises(UsageError):
        open_emulator(f"emulator://{tmp_path}/x?url_content_bytes=-1", FakeClock())
    with pytest.raises(UsageError):
        open_emulator(f"emulator://{tmp_path}/y?index_pending_status=%20", FakeClock())
