"""Search: deterministic chunking and scoring (hand-computed), filters with the documented
semantics, thresholds, limits, and only `completed` files."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from kbctl.clock import FakeClock
from tests.emulator_openai.conftest import attach, new_store, ok, upload


def search(client: httpx.Client, store: str, query: object, **extra: object) -> dict:
    return ok(client.post(f"/vector_stores/{store}/search", json={"query": query, **extra}))


@pytest.fixture
def instant(new_client: Callable[..., httpx.Client]) -> httpx.Client:
    return new_client(index_seconds=0)


def test_static_chunks_are_token_windows(instant: httpx.Client) -> None:
    store = new_store(instant)
    words = [f"w{i}" for i in range(160)]
    file_id = upload(instant, " ".join(words), "words.txt")
    strategy = {
        "type": "static",
        "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50},
    }
    attach(instant, store, file_id, chunking_strategy=strategy)
    hits = search(instant, store, "w120", max_num_results=50)["data"]
    texts = sorted(hit["content"][0]["text"] for hit in hits)
    # windows [0, 100), [50, 150), [100, 160): "w120" lies in the last two
    assert texts == sorted([" ".join(words[50:150]), " ".join(words[100:160])])
    assert {hit["file_id"] for hit in hits} == {file_id}
    punctuated = upload(instant, "a, b. " * 60, "p.md")  # 4 tokens per repeat
    attach(instant, store, punctuated, chunking_strategy=strategy)
    chunks = search(instant, store, "a", max_num_results=50)["data"]
    assert len(chunks) == 4  # 240 tokens: windows at 0, 50, 100, 150 (the last reaches the end)
    assert chunks[0]["content"][0]["text"].startswith("a, b.")


def test_scores_are_normalised_bm25(instant: httpx.Client) -> None:
    store = new_store(instant)
    a = upload(instant, "apple banana", "a.md")
    b = upload(instant, "cherry", "b.md")
    attach(instant, store, a, attributes={"kind": "fruit"})
    attach(instant, store, b)
    page = search(instant, store, "apple")
    assert page["object"] == "vector_store.search_results.page"
    assert page["search_query"] == ["apple"] and page["has_more"] is False
    assert page["next_page"] is None
    # N=2, df=1, idf=ln 2; |a|=2, avg=1.5, norm=1.2*(0.25+0.75*2/1.5)=1.5
    # score = idf*1*2.2/(1+1.5) / (idf*2.2) = 0.4
    assert page["data"] == [
        {
            "file_id": a,
            "filename": "a.md",
            "score": 0.4,
            "attributes": {"kind": "fruit"},
            "content": [{"type": "text", "text": "apple banana"}],
        }
    ]
    assert search(instant, store, "durian")["data"] == []  # nothing in common, nothing found
    assert [
        h["score"]
        for h in search(instant, store, "apple", ranking_options={"score_threshold": 0.4})["data"]
    ] == [0.4]
    assert search(instant, store, "apple", ranking_options={"score_threshold": 0.41})["data"] == []


def test_ranking_order_limit_and_queries(instant: httpx.Client) -> None:
    store = new_store(instant)
    strong = upload(instant, "refund refund refund policy", "strong.md")
    weak = upload(instant, "refund policy for holiday purchases and gifts", "weak.md")
    other = upload(instant, "opening hours", "other.md")
    for f in (weak, strong, other):
        attach(instant, store, f)
    ranked = search(instant, store, "refund")["data"]
    assert [h["file_id"] for h in ranked] == [strong, weak]
    assert ranked[0]["score"] > ranked[1]["score"] > 0
    assert [h["file_id"] for h in search(instant, store, "refund", max_num_results=1)["data"]] == [
        strong
    ]
    many = search(instant, store, ["refund", "hours"], rewrite_query=True)
    assert many["search_query"] == ["refund", "hours"]  # not rewritten
    assert {h["file_id"] for h in many["data"]} == {strong, weak, other}
    again = search(instant, store, ["refund", "hours"], rewrite_query=True)
    assert again == many  # deterministic


def test_only_completed_files_are_searched(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    client = new_client(index_seconds=5, fail_index_containing=("BROKEN",))
    store = new_store(client)
    ready = upload(client, "refund rules", "ready.md")
    attach(client, store, ready)
    clock.advance(5)
    attach(client, store, upload(client, "refund later", "later.md"))
    attach(client, store, upload(client, "refund BROKEN", "broken.md"))
    assert [h["file_id"] for h in search(client, store, "refund")["data"]] == [ready]
    clock.advance(5)
    assert len(search(client, store, "refund")["data"]) == 2


@pytest.fixture
def tagged(instant: httpx.Client) -> tuple[str, dict[str, str]]:
    store = new_store(instant)
    files = {
        "sales": {"dept": "sales", "version": 3, "draft": False, "updated": "2026-01-02"},
        "hr": {"dept": "hr", "version": 1},
        "bare": None,
    }
    ids = {}
    for name, attrs in files.items():
        ids[name] = upload(instant, f"refund notes from {name}", f"{name}.md")
        attach(instant, store, ids[name], **({"attributes": attrs} if attrs else {}))
    return store, ids


def eq(key: str, value: object, kind: str = "eq") -> dict:
    return {"type": kind, "key": key, "value": value}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (eq("dept", "sales"), {"sales"}),
        ({"key": "dept", "value": "hr"}, {"hr"}),  # type defaults to eq
        (eq("dept", "sales", "ne"), {"hr"}),  # a missing key never matches, even ne
        (eq("version", 1, "gt"), {"sales"}),
        (eq("version", 1, "gte"), {"sales", "hr"}),
        (eq("version", 3, "lt"), {"hr"}),
        (eq("version", 3.0, "lte"), {"sales", "hr"}),
        (eq("version", "3"), set()),  # a string is not a number
        (eq("draft", False), {"sales"}),
        (eq("draft", 0), set()),  # a boolean is not a number
        (eq("draft", False, "gt"), set()),  # booleans only compare for equality
        (eq("dept", ["sales", "legal"], "in"), {"sales"}),
        (eq("dept", ["sales"], "nin"), {"hr"}),
        (eq("version", [1, 2], "in"), {"hr"}),
        (eq("updated", "2026-01-01", "gt"), {"sales"}),  # strings compare lexicographically
        ({"type": "and", "filters": [eq("dept", "sales"), eq("version", 2, "gte")]}, {"sales"}),
        ({"type": "or", "filters": [eq("dept", "hr"), eq("draft", False)]}, {"sales", "hr"}),
        ({"type": "and", "filters": [
            {"type": "or", "filters": [eq("dept", "hr"), eq("dept", "sales")]},
            eq("version", 2, "lt"),
        ]}, {"hr"}),
        ({"type": "and", "filters": []}, {"sales", "hr", "bare"}),
        ({"type": "or", "filters": []}, set()),
    ],
)  # fmt: skip
def test_filters(
    instant: httpx.Client, tagged: tuple[str, dict[str, str]], flt: dict, expected: set[str]
) -> None:
    store, ids = tagged
    hits = search(instant, store, "refund notes", filters=flt)["data"]
    by_id = {v: k for k, v in ids.items()}
    assert {by_id[h["file_id"]] for h in hits} == expected
    for hit in hits:
        if by_id[hit["file_id"]] == "bare":
            assert hit["attributes"] is None


def test_terms_ignore_case_and_light_inflection(instant: httpx.Client) -> None:
    store = new_store(instant)
    en = upload(instant, "Keep every RECEIPT.", "en.md")
    ru = upload(instant, "Ёлки и подарки", "ru.md")
    attach(instant, store, en)
    attach(instant, store, ru)
    assert [h["file_id"] for h in search(instant, store, "receipts")["data"]] == [en]
    assert [h["file_id"] for h in search(instant, store, "елки")["data"]] == [ru]
