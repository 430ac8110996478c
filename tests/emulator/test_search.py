"""Content search: tokenizer, stemming, BM25 ranking, snippets, pagination."""

from __future__ import annotations

import httpx

from kbctl.emulator.workspace.search import Bm25Index, chunk_text, snippet, stem, tokenize
from tests.emulator.conftest import KB, create_text

RU = (
    "Политика возврата: деньги за бронирование возвращаются полностью, если отмена сделана "
    "за 48 часов до заезда. Возврат оформляется на ту же карту."
)
EN = "Refund policy: bookings are refunded in full when cancelled 48 hours before arrival."
BREAKFAST = "Breakfast is served from 07:30 to 10:30 in the winter garden."


def test_tokenizer_is_unicode_aware() -> None:
    assert tokenize("Привет, МИР! Ёлка") == ["привет", "мир", "елка"]
    assert tokenize("Check-in at 15:00") == ["check", "in", "at", "15", "00"]


def test_stemmer_joins_inflections() -> None:
    assert stem("возврата") == stem("возврат") == stem("возвратом")
    assert stem("refunds") == stem("refund")
    assert stem("policies") == "policy"
    assert stem("cat") == "cat"  # too short to strip


def test_bm25_prefers_rare_terms_and_length_normalises() -> None:
    index = Bm25Index()
    index.add("a", "lake lake house")
    index.add("b", "house house house house house house")
    index.add("c", "garden")
    hits = index.search("lake house")
    assert [h[0] for h in hits] == ["a", "b"]
    index.remove("a")
    assert [h[0] for h in index.search("lake")] == []
    assert len(index) == 2 and "b" in index


def test_russian_query_finds_russian_document_first(client: httpx.Client) -> None:
    en = create_text(client, EN, "refunds-en")
    ru = create_text(client, RU, "refunds-ru")
    create_text(client, BREAKFAST, "breakfast")
    body = client.get(f"{KB}/search", params={"query": "возврат денег"}).json()
    ids = [r["document"]["id"] for r in body["results"]]
    assert ids[0] == ru
    assert en not in ids
    body = client.get(f"{KB}/search", params={"query": "refund policy"}).json()
    assert body["results"][0]["document"]["id"] == en
    assert body["next_cursor"] is None
    assert "has_more" not in body


def test_result_shape_and_snippet(client: httpx.Client) -> None:
    create_text(client, BREAKFAST, "breakfast")
    (result,) = client.get(f"{KB}/search", params={"query": "breakfast"}).json()["results"]
    assert result["score"] > 0
    assert result["document"]["type"] == "text"
    assert "dependent_agents" in result["document"]
    hits = [s["value"] for s in result["search_snippet"] if s["is_hit"]]
    assert hits == ["Breakfast"]
    assert "".join(s["value"] for s in result["search_snippet"]).startswith("Breakfast is served")


def test_search_types_pagination_and_validation(client: httpx.Client) -> None:
    for i in range(5):
        create_text(client, f"lake number {i}", f"t{i}")
    client.post(f"{KB}/url", json={"url": "https://example.com/lake"})
    first = client.get(f"{KB}/search", params={"query": "lake", "page_size": 3, "types": "text"})
    body = first.json()
    assert len(body["results"]) == 3 and body["next_cursor"]
    rest = client.get(
        f"{KB}/search",
        params={"query": "lake", "page_size": 3, "types": "text", "cursor": body["next_cursor"]},
    ).json()
    assert len(rest["results"]) == 2 and rest["next_cursor"] is None
    assert client.get(f"{KB}/search").status_code == 422


def test_search_sees_patched_and_deleted_documents(client: httpx.Client) -> None:
    doc = create_text(client, "apple pie", "dessert")
    assert client.get(f"{KB}/search", params={"query": "apple"}).json()["results"]
    client.patch(f"{KB}/{doc}", json={"content": "cherry cake"})
    assert not client.get(f"{KB}/search", params={"query": "apple"}).json()["results"]
    assert client.get(f"{KB}/search", params={"query": "cherry"}).json()["results"]
    client.delete(f"{KB}/{doc}")
    assert not client.get(f"{KB}/search", params={"query": "cherry"}).json()["results"]


def test_snippet_and_chunks_helpers() -> None:
    runs = snippet("one two three", "two")
    assert runs == [
        {"value": "one ", "is_hit": False},
        {"value": "two", "is_hit": True},
        {"value": " three", "is_hit": False},
    ]
    assert snippet("", "x") == []
    text = "\n\n".join(["word " * 150] * 4)
    chunks = chunk_text(text, target=1000)
    assert all(len(c) <= 1000 for c in chunks)
    assert sum(c.count("word") for c in chunks) == 600
