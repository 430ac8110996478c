"""Cursor lists: order, `after`/`before`, `has_more`, `first_id`/`last_id`, limits, status and
purpose filters, and cursors that survive deletions."""

from __future__ import annotations

import httpx
import pytest

from kbctl.clock import FakeClock
from tests.emulator_openai.conftest import attach, error_of, new_store, ok, upload


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["data"]]


@pytest.fixture
def stores(client: httpx.Client, clock: FakeClock) -> list[str]:
    made = []
    for i in range(5):
        made.append(new_store(client, name=f"s{i}"))
        clock.advance(1 if i != 2 else 0)  # a tie in created_at keeps creation order
    return made


def test_store_pages_both_ways(client: httpx.Client, stores: list[str]) -> None:
    newest_first = list(reversed(stores))
    page = ok(client.get("/vector_stores", params={"limit": 2}))
    assert page["object"] == "list" and ids(page) == newest_first[:2]
    assert page["first_id"] == newest_first[0] and page["last_id"] == newest_first[1]
    assert page["has_more"] is True
    page = ok(client.get("/vector_stores", params={"limit": 2, "after": page["last_id"]}))
    assert ids(page) == newest_first[2:4] and page["has_more"] is True
    page = ok(client.get("/vector_stores", params={"limit": 2, "after": page["last_id"]}))
    assert ids(page) == newest_first[4:] and page["has_more"] is False
    asc = ok(client.get("/vector_stores", params={"order": "asc", "limit": 100}))
    assert ids(asc) == stores and asc["has_more"] is False
    before = ok(client.get("/vector_stores", params={"order": "asc", "before": stores[3]}))
    assert ids(before) == stores[:3]
    window = ok(
        client.get("/vector_stores", params={"order": "asc", "before": stores[4], "limit": 2})
    )
    assert ids(window) == stores[2:4] and window["has_more"] is True
    assert ids(ok(client.get("/vector_stores"))) == newest_first  # default limit 20, desc


def test_a_deleted_cursor_still_pages(client: httpx.Client, stores: list[str]) -> None:
    page = ok(client.get("/vector_stores", params={"limit": 2, "order": "asc"}))
    ok(client.delete(f"/vector_stores/{page['last_id']}"))
    rest = ok(client.get("/vector_stores", params={"order": "asc", "after": page["last_id"]}))
    assert ids(rest) == stores[2:]
    error = error_of(client.get("/vector_stores", params={"after": "vs_never"}), 400)
    assert error["param"] == "after"


def test_empty_list(client: httpx.Client) -> None:
    assert ok(client.get("/vector_stores")) == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


@pytest.mark.parametrize(
    ("params", "param"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "x"}, "limit"),
     ({"order": "up"}, "order")],
)  # fmt: skip
def test_bad_list_parameters(client: httpx.Client, params: dict, param: str) -> None:
    assert error_of(client.get("/vector_stores", params=params), 400)["param"] == param


def test_files_list_limit_purpose_and_no_before(client: httpx.Client, clock: FakeClock) -> None:
    made = []
    for i in range(3):
        made.append(upload(client, f"text {i}", f"f{i}.md"))
        clock.advance(1)
    r = client.post("/files", files={"file": ("b.jsonl", b"{}")}, data={"purpose": "batch"})
    batch_file = ok(r)["id"]
    assert ids(ok(client.get("/files", params={"limit": 10_000}))) == [batch_file, *made[::-1]]
    error_of(client.get("/files", params={"limit": 10_001}), 400)
    assert ids(ok(client.get("/files", params={"purpose": "assistants", "order": "asc"}))) == made
    assert ids(ok(client.get("/files", params={"purpose": "batch"}))) == [batch_file]
    page = ok(client.get("/files", params={"order": "asc", "limit": 1, "after": made[0]}))
    assert ids(page) == [made[1]] and page["has_more"] is True
    assert len(ok(client.get("/files", params={"before": made[1]}))["data"]) == 4  # ignored


def test_store_files_filter_and_pages(clock: FakeClock, client: httpx.Client) -> None:
    store = new_store(client)
    files = [upload(client, f"text {i}", f"f{i}.md") for i in range(4)]
    for f in files[:3]:
        attach(client, store, f)
        clock.advance(1)
    clock.advance(10)
    attach(client, store, files[3])
    url = f"/vector_stores/{store}/files"
    assert ids(ok(client.get(url, params={"filter": "completed", "order": "asc"}))) == files[:3]
    assert ids(ok(client.get(url, params={"filter": "in_progress"}))) == [files[3]]
    assert ids(ok(client.get(url, params={"filter": "failed"}))) == []
    error_of(client.get(url, params={"filter": "done"}), 400)
    seen, after = [], None
    while True:
        params = {"limit": 1, **({"after": after} if after else {})}
        page = ok(client.get(url, params=params))
        seen += ids(page)
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == files[::-1]
    ok(client.delete(f"{url}/{files[2]}"))
    rest = ok(client.get(url, params={"after": files[2], "order": "asc"}))
    assert ids(rest) == [files[3]]  # the detached file's cursor still works
