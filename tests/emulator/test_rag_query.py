"""The agent's own retrieval: `POST /v1/convai/agents/{id}/knowledge-base/rag-query` returns
ranked chunks of the agent's attached, indexed documents only, within its RAG limits."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import World
from tests.emulator.conftest import AGENTS, KB, create_text, strict, world_of

E5 = "e5_mistral_7b_instruct"
ML = "multilingual_e5_large_instruct"
A = f"{AGENTS}/agent_a"
PAD = " The guest house team is happy to help with anything else during your stay." * 8

BREAKFAST = "Breakfast is served from 07:30 to 10:30 in the winter garden." + PAD
PARKING = "Parking costs 12 euros per night; the garage closes at midnight." + PAD
SAUNA = "Сауна работает с восьми утра до десяти вечера, полотенца выдаются на ресепшене." + PAD


def setup_agent(
    client: httpx.Client, world: World, clock: FakeClock, *texts: str, model: str = E5
) -> list[str]:
    world.create_agent("agent_a", rag={"enabled": True, "embedding_model": model})
    ids = [create_text(client, t, name=t.split(" ")[0]) for t in texts]
    for doc in ids:
        client.post(f"{KB}/{doc}/rag-index", json={"model": model})
    clock.advance(10)
    kb = [{"type": "text", "name": d, "id": d, "usage_mode": "auto"} for d in ids]
    world.set_knowledge_base("agent_a", kb)
    return ids


def ask(client: httpx.Client, query: str, **body: object) -> dict:
    params: dict[str, str] = {}
    if "branch_id" in body:
        params["branch_id"] = str(body.pop("branch_id"))
    r = client.post(f"{A}/knowledge-base/rag-query", params=params, json={"query": query, **body})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_ranked_chunks_with_every_field(
    client: httpx.Client, world: World, clock: FakeClock
) -> None:
    from elevenlabs.types import AgentKnowledgeBaseRagQueryResponseModel

    breakfast, parking = setup_agent(client, world, clock, BREAKFAST, PARKING)
    answer = ask(client, "When is breakfast served?")
    strict(AgentKnowledgeBaseRagQueryResponseModel, answer)
    assert answer["retrieval_query"] == "When is breakfast served?"
    first = answer["chunks"][0]
    assert first["document_id"] == breakfast
    assert first["document_name"] == "Breakfast"
    assert first["document_type"] == "text"
    assert first["source_url"] is None
    assert first["content_format"] == "markdown"
    assert first["text"].startswith("Breakfast is served")
    assert 0.0 <= first["vector_distance"] < 0.6
    distances = [c["vector_distance"] for c in answer["chunks"]]
    assert distances == sorted(distances)
    # the chunk is the one the chunks endpoint serves
    listed = client.get(f"{KB}/{breakfast}/chunks", params={"embedding_model": E5}).json()
    assert first["chunk_id"] in {c["id"] for c in listed["chunks"]}
    parking_first = ask(client, "how much is parking per night")["chunks"][0]
    assert parking_first["document_id"] == parking


def test_multilingual_query(client: httpx.Client, world: World, clock: FakeClock) -> None:
    _, sauna = setup_agent(client, world, clock, BREAKFAST, SAUNA, model=ML)
    chunks = ask(client, "Когда работает сауна?")["chunks"]
    assert chunks[0]["document_id"] == sauna


def test_only_attached_and_indexed_documents(
    client: httpx.Client, world: World, clock: FakeClock
) -> None:
    breakfast, parking = setup_agent(client, world, clock, BREAKFAST, PARKING)
    unattached = create_text(client, "Breakfast breakfast breakfast served early." + PAD)
    client.post(f"{KB}/{unattached}/rag-index", json={"model": E5})
    not_indexed = create_text(client, "Breakfast is served on the terrace." + PAD)
    other_model = create_text(client, "Breakfast served on the boat." + PAD)
    client.post(f"{KB}/{other_model}/rag-index", json={"model": ML})
    clock.advance(10)
    kb = [
        {"type": "text", "name": d, "id": d} for d in (breakfast, parking, not_indexed, other_model)
    ]
    world.set_knowledge_base("agent_a", kb)
    found = {c["document_id"] for c in ask(client, "breakfast served")["chunks"]}
    assert found <= {breakfast, parking} and breakfast in found
    # an index deleted (or still in progress) takes its document out of retrieval
    ix = client.get(f"{KB}/{breakfast}/rag-index").json()["indexes"][0]["id"]
    client.delete(f"{KB}/{breakfast}/rag-index/{ix}")
    assert breakfast not in {c["document_id"] for c in ask(client, "breakfast")["chunks"]}


def test_limits_distance_and_defaults(client: httpx.Client, world: World, clock: FakeClock) -> None:
    setup_agent(client, world, clock, BREAKFAST, PARKING)
    everything = ask(client, "guest house team help stay", max_retrieved_rag_chunks_count=20)
    assert len(everything["chunks"]) == 2
    assert (
        len(ask(client, "guest house team help stay", max_retrieved_rag_chunks_count=1)["chunks"])
        == 1
    )
    one_chunk = len(everything["chunks"][0]["text"])
    capped = ask(client, "guest house team help stay", max_documents_length=one_chunk + 1)
    assert len(capped["chunks"]) == 1
    assert ask(client, "zebra quantum xylophone")["chunks"] == []  # all too far away
    world.update_agent(
        "agent_a",
        {"conversation_config": {"agent": {"prompt": {"rag": {"max_vector_distance": 0.01}}}}},
    )
    assert ask(client, "breakfast parking garden")["chunks"] == []
    # neutral defaults ignore the agent's tight distance
    assert ask(client, "breakfast parking garden", use_agent_defaults=False)["chunks"] != []


def test_branch_selects_its_knowledge_base(
    client: httpx.Client, world: World, clock: FakeClock
) -> None:
    breakfast, parking = setup_agent(client, world, clock, BREAKFAST, PARKING)
    head = client.get(A).json()["version_id"]
    kb = [{"type": "text", "name": "p", "id": parking}]
    created = client.post(
        f"{A}/branches",
        json={
            "parent_version_id": head,
            "name": "only-parking",
            "description": "",
            "conversation_config": {"agent": {"prompt": {"knowledge_base": kb}}},
        },
    ).json()
    on_branch = ask(client, "breakfast parking", branch_id=created["created_branch_id"])
    assert {c["document_id"] for c in on_branch["chunks"]} == {parking}
    assert {c["document_id"] for c in ask(client, "breakfast parking")["chunks"]} == {
        breakfast,
        parking,
    }


def test_rag_disabled_retrieves_nothing(
    client: httpx.Client, world: World, clock: FakeClock
) -> None:
    setup_agent(client, world, clock, BREAKFAST)
    world.update_agent(
        "agent_a", {"conversation_config": {"agent": {"prompt": {"rag": {"enabled": False}}}}}
    )
    assert ask(client, "breakfast")["chunks"] == []


def test_folders_are_expanded(client: httpx.Client, world: World, clock: FakeClock) -> None:
    world.create_agent("agent_a", rag={"enabled": True})
    folder = client.post(f"{KB}/folder", json={"name": "house"}).json()["id"]
    doc = client.post(
        f"{KB}/text", json={"text": BREAKFAST, "name": "b", "parent_folder_id": folder}
    ).json()["id"]
    client.post(f"{KB}/{doc}/rag-index", json={"model": E5})
    clock.advance(10)
    world.set_knowledge_base("agent_a", [{"type": "folder", "name": "house", "id": folder}])
    assert ask(client, "breakfast")["chunks"][0]["document_id"] == doc


def test_validation_and_unknowns(client: httpx.Client, world: World) -> None:
    world.create_agent("agent_a", rag={"enabled": True})
    url = f"{A}/knowledge-base/rag-query"
    r = client.post(url, json={"query": ""})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "query"]
    r = client.post(url, json={"query": "x", "max_retrieved_rag_chunks_count": 21})
    assert r.status_code == 422
    r = client.post(url, json={"query": "x", "max_documents_length": 50001})
    assert r.status_code == 422
    assert (
        client.post(f"{AGENTS}/ghost/knowledge-base/rag-query", json={"query": "x"}).status_code
        == 404
    )
    assert client.post(url, params={"branch_id": "nope"}, json={"query": "x"}).status_code == 404


def test_no_rag_query_answers_404(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(no_rag_query=True)
    world_of(c).create_agent("agent_a", rag={"enabled": True})
    r = c.post(f"{A}/knowledge-base/rag-query", json={"query": "breakfast"})
    assert r.status_code == 404 and r.json()["detail"]["status"] == "not_found"


@pytest.mark.parametrize("edit_drops", [True, False])
def test_chunks_are_cut_when_indexed(
    new_client: Callable[..., httpx.Client], clock: FakeClock, edit_drops: bool
) -> None:
    c = new_client(edit_drops_indexes=edit_drops)
    world = world_of(c)
    world.create_agent("agent_a", rag={"enabled": True})
    doc = create_text(c, BREAKFAST)
    c.post(f"{KB}/{doc}/rag-index", json={"model": E5})
    clock.advance(10)
    world.set_knowledge_base("agent_a", [{"type": "text", "name": "b", "id": doc}])
    c.patch(f"{KB}/{doc}", json={"content": PARKING})
    texts = [ch["text"] for ch in ask(c, "breakfast parking")["chunks"]]
    # a dropped index retrieves nothing; a kept one still holds what was indexed
    if edit_drops:
        assert texts == []
    else:
        assert texts and texts[0].startswith("Breakfast")


def test_keyword_strategy_and_document_filter(
    client: httpx.Client, world: World, clock: FakeClock
) -> None:
    breakfast, parking = setup_agent(client, world, clock, BREAKFAST, PARKING)
    keyword = ask(client, "breakfast", strategy="keyword")
    assert keyword["strategy"] == "keyword"
    assert keyword["chunks"][0]["document_id"] == breakfast
    assert all(c["vector_distance"] is None for c in keyword["chunks"])
    assert ask(client, "breakfast")["strategy"] == "semantic"
    only = ask(client, "breakfast parking", documents=[parking])
    assert {c["document_id"] for c in only["chunks"]} == {parking}
    by_name = ask(client, "breakfast parking", documents=["Breakfast"])
    assert {c["document_id"] for c in by_name["chunks"]} == {breakfast}
    r = client.post(f"{A}/knowledge-base/rag-query", json={"query": "x", "strategy": "cat"})
    assert r.status_code == 501 and r.json()["detail"]["status"] == "not_emulated"
