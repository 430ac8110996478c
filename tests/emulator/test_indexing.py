"""RAG indexing per (document, model) over FakeClock time: every status, quota, overview, batch."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import World
from tests.emulator.conftest import AGENTS, KB, LONG_TEXT, attach, create_text, world_of

E5 = "e5_mistral_7b_instruct"
ML = "multilingual_e5_large_instruct"


def compute(client: httpx.Client, doc: str, model: str = E5) -> dict:
    r = client.post(f"{KB}/{doc}/rag-index", json={"model": model})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_not_indexed_until_asked(client: httpx.Client, world: World, clock: FakeClock) -> None:
    world.create_agent("agent_a", rag={"enabled": True})
    doc = create_text(client)
    attach(client, "agent_a", doc)
    clock.advance(3600)
    assert client.get(f"{KB}/{doc}/rag-index").json() == {"indexes": []}
    assert client.get(f"{KB}/rag-index").json()["total_used_bytes"] == 0


def test_created_processing_succeeded(client: httpx.Client, clock: FakeClock) -> None:
    doc = create_text(client)
    size = len(LONG_TEXT.encode())
    first = compute(client, doc)
    assert first["status"] == "created"
    assert first["progress_percentage"] == 0.0
    assert first["document_model_index_usage"] == {"used_bytes": 0}
    assert first["model"] == E5
    clock.advance(2.5)
    mid = compute(client, doc)
    assert mid["id"] == first["id"]
    assert mid["status"] == "processing" and mid["progress_percentage"] == 25.0
    clock.advance(5)
    assert compute(client, doc)["progress_percentage"] == 75.0
    clock.advance(2.5)
    done = client.get(f"{KB}/{doc}/rag-index").json()["indexes"]
    assert done == [
        {
            "id": first["id"],
            "model": E5,
            "status": "succeeded",
            "progress_percentage": 100.0,
            "document_model_index_usage": {"used_bytes": size},
        }
    ]
    overview = client.get(f"{KB}/rag-index").json()
    assert overview["total_used_bytes"] == size
    assert overview["models"] == [{"model": E5, "used_bytes": size}]
    assert overview["total_max_bytes"] == 20 * 1024 * 1024


def test_zero_index_seconds_succeeds_at_once(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(index_seconds=0)
    assert compute(c, create_text(c))["status"] == "succeeded"


def test_indexes_are_per_model(client: httpx.Client, clock: FakeClock) -> None:
    doc = create_text(client)
    a = compute(client, doc, E5)
    b = compute(client, doc, ML)
    assert a["id"] != b["id"]
    clock.advance(10)
    models = [i["model"] for i in client.get(f"{KB}/{doc}/rag-index").json()["indexes"]]
    assert sorted(models) == sorted([E5, ML])
    assert len(client.get(f"{KB}/rag-index").json()["models"]) == 2


def test_document_too_small_immediately(client: httpx.Client) -> None:
    doc = create_text(client, "tiny")
    got = compute(client, doc)
    assert got["status"] == "document_too_small"
    assert got["document_model_index_usage"]["used_bytes"] == 0


def test_min_index_bytes_is_configurable(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(min_index_bytes=3, index_seconds=0)
    assert compute(c, create_text(c, "tiny"))["status"] == "succeeded"


def test_cannot_index_folder(client: httpx.Client) -> None:
    folder = client.post(f"{KB}/folder", json={"name": "f"}).json()["id"]
    assert compute(client, folder)["status"] == "cannot_index_folder"


def test_failed_for_configured_text_is_sticky_until_deleted(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    c = new_client(fail_index_containing=("POISON", "VENOM"))
    bad = create_text(c, LONG_TEXT + "VENOM")
    good = create_text(c)
    assert compute(c, bad)["status"] == "created"
    assert compute(c, good)["status"] == "created"
    clock.advance(5)
    assert compute(c, bad)["status"] == "processing"
    clock.advance(5)
    failed = compute(c, bad)  # polling with POST sees the failure and stops there
    assert failed["status"] == "failed"
    assert failed["document_model_index_usage"]["used_bytes"] == 0
    assert compute(c, bad)["status"] == "failed"
    statuses = {i.document_id: i.status for i in world_of(c).indexes()}
    assert statuses == {bad: "failed", good: "succeeded"}
    # a new attempt: delete the index, then ask again
    c.delete(f"{KB}/{bad}/rag-index/{failed['id']}")
    retry = compute(c, bad)
    assert retry["id"] != failed["id"] and retry["status"] == "created"


def test_rag_limit_exceeded_against_quota(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    size = len(LONG_TEXT.encode())
    c = new_client(rag_quota_bytes=size * 2 + 10, index_seconds=1)
    docs = [create_text(c, LONG_TEXT, f"d{i}") for i in range(3)]
    assert compute(c, docs[0])["status"] == "created"
    assert compute(c, docs[1])["status"] == "created"  # in flight counts against the quota
    third = compute(c, docs[2])
    assert third["status"] == "rag_limit_exceeded"
    clock.advance(1)
    overview = c.get(f"{KB}/rag-index").json()
    assert overview["total_used_bytes"] == 2 * size
    assert overview["total_max_bytes"] == size * 2 + 10
    assert compute(c, docs[2])["status"] == "rag_limit_exceeded"  # sticky
    # freeing quota (deleting an indexed document) lets a new attempt through
    assert c.delete(f"{KB}/{docs[0]}").status_code == 200
    c.delete(f"{KB}/{docs[2]}/rag-index/{third['id']}")
    assert compute(c, docs[2])["status"] == "created"


def test_delete_index_returns_it_and_frees_bytes(client: httpx.Client, clock: FakeClock) -> None:
    doc = create_text(client)
    ix = compute(client, doc)
    clock.advance(10)
    r = client.delete(f"{KB}/{doc}/rag-index/{ix['id']}")
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    assert client.get(f"{KB}/{doc}/rag-index").json() == {"indexes": []}
    assert client.get(f"{KB}/rag-index").json()["total_used_bytes"] == 0
    assert client.delete(f"{KB}/{doc}/rag-index/{ix['id']}").status_code == 404


def test_content_patch_drops_indexes(client: httpx.Client, clock: FakeClock) -> None:
    doc = create_text(client)
    compute(client, doc)
    clock.advance(10)
    client.patch(f"{KB}/{doc}", json={"content": LONG_TEXT + " more"})
    assert client.get(f"{KB}/{doc}/rag-index").json() == {"indexes": []}


def test_batch_get_or_create(client: httpx.Client) -> None:
    a = create_text(client)
    b = create_text(client)
    items = [
        {"document_id": a, "create_if_missing": True, "model": E5},
        {"document_id": b, "create_if_missing": False, "model": E5},
        {"document_id": "ghost", "create_if_missing": True, "model": E5},
    ]
    body = client.post(f"{KB}/rag-index", json={"items": items}).json()
    assert body[a]["status"] == "success" and body[a]["data"]["status"] == "created"
    assert body[b] == {
        "status": "failure",
        "error_code": 404,
        "error_status": "rag_index_not_found",
        "error_message": f"Document {b!r} has no index for {E5}.",
    }
    assert body["ghost"]["error_status"] == "document_not_found"


@pytest.mark.parametrize("count", [0, 101])
def test_batch_item_count_bounds(client: httpx.Client, count: int) -> None:
    items = [{"document_id": "x", "create_if_missing": True, "model": E5}] * count
    r = client.post(f"{KB}/rag-index", json={"items": items})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "items"]


def test_compute_requires_known_model(client: httpx.Client) -> None:
    doc = create_text(client)
    r = client.post(f"{KB}/{doc}/rag-index", json={"model": "ada"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "enum"
    assert client.post(f"{KB}/ghost/rag-index", json={"model": E5}).status_code == 404


def test_chunks_only_for_indexed_documents(client: httpx.Client, clock: FakeClock) -> None:
    doc = create_text(client, LONG_TEXT * 3)
    params = {"embedding_model": E5}
    assert client.get(f"{KB}/{doc}/chunks", params=params).status_code == 404
    assert client.get(f"{KB}/{doc}/chunks").status_code == 422
    compute(client, doc)
    clock.advance(10)
    body = client.get(f"{KB}/{doc}/chunks", params={**params, "page_size": 1}).json()
    assert len(body["chunks"]) == 1 and body["next_cursor"]
    chunk = body["chunks"][0]
    one = client.get(f"{KB}/{doc}/chunk/{chunk['id']}", params=params).json()
    assert one == chunk


def test_auto_index_on_attach_toggle(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    c = new_client(auto_index_on_attach=True)
    world = world_of(c)
    world.create_agent("rag_on", rag={"enabled": True, "embedding_model": ML})
    world.create_agent("rag_off")
    doc = create_text(c)
    attach(c, "rag_off", doc)
    assert world.indexes(doc) == []
    attach(c, "rag_on", doc)
    (ix,) = world.indexes(doc)
    assert ix.model == ML and ix.status == "created"


def test_index_status_read_through_world(
    client: httpx.Client, world: World, clock: FakeClock
) -> None:
    doc = create_text(client)
    compute(client, doc)
    clock.advance(4)
    (ix,) = world.indexes(doc)
    assert (ix.status, ix.progress_percentage, ix.used_bytes) == ("processing", 40.0, 0)
    r = client.get(f"{AGENTS}/nope")
    assert r.status_code == 404
