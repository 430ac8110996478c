"""Document endpoints: create, read, content, list/paginate/filter, PATCH, files, folders."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import World
from tests.emulator.conftest import KB, LONG_TEXT, create_text


def test_create_text_returns_add_response_and_does_not_attach(
    client: httpx.Client, world: World
) -> None:
    world.create_agent("agent_a")
    r = client.post(f"{KB}/text", json={"text": "Hello", "name": "greeting"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"id", "name", "folder_path"}
    assert body["name"] == "greeting"
    assert len(body["id"]) == 20 and body["id"].isalnum()
    agent = world.agent("agent_a")
    assert agent is not None and agent.knowledge_base == ()


def test_default_name_is_first_line(client: httpx.Client) -> None:
    r = client.post(f"{KB}/text", json={"text": "\n# Refund policy\nbody"})
    assert r.json()["name"] == "Refund policy"


def test_ids_are_deterministic_per_seed(new_client: Callable[..., httpx.Client]) -> None:
    a, b, c = new_client(seed=1), new_client(seed=1), new_client(seed=2)
    assert create_text(a) == create_text(b) != create_text(c)


def test_detail_text_document(client: httpx.Client, clock: FakeClock) -> None:
    doc = create_text(client, "Some text", "n")
    d = client.get(f"{KB}/{doc}").json()
    assert d["type"] == "text"
    assert d["extracted_inner_html"] == "Some text"
    assert d["metadata"] == {
        "created_at_unix_secs": int(clock.now()),
        "last_updated_at_unix_secs": int(clock.now()),
        "size_bytes": 9,
    }
    assert d["supported_usages"] == ["prompt", "auto"]
    assert d["access_info"]["role"] == "admin"
    assert d["folder_parent_id"] is None and d["folder_path"] == []
    assert "dependent_agents" not in d


def test_content_is_raw_text(client: httpx.Client) -> None:
    text = "Привет <b>мир</b>\nline two"
    doc = create_text(client, text)
    r = client.get(f"{KB}/{doc}/content")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.text == text


def test_url_document_has_deterministic_placeholder(client: httpx.Client) -> None:
    r = client.post(f"{KB}/url", json={"url": "https://example.com/faq"})
    doc = r.json()["id"]
    assert r.json()["name"] == "https://example.com/faq"
    detail = client.get(f"{KB}/{doc}").json()
    assert detail["type"] == "url" and detail["url"] == "https://example.com/faq"
    content = client.get(f"{KB}/{doc}/content").text
    assert "https://example.com/faq" in content
    assert len(content.encode()) >= 1000
    again = client.post(f"{KB}/url", json={"url": "https://example.com/faq"}).json()["id"]
    assert client.get(f"{KB}/{again}/content").text == content


def test_file_document_multipart(client: httpx.Client) -> None:
    data = "Прайс-лист: 100 ₽\n".encode()
    r = client.post(
        f"{KB}/file", files={"file": ("price.txt", data, "text/plain")}, data={"name": "Prices"}
    )
    assert r.status_code == 200, r.text
    doc = r.json()["id"]
    assert r.json()["name"] == "Prices"
    detail = client.get(f"{KB}/{doc}").json()
    assert detail["type"] == "file" and detail["filename"] == "price.txt"
    assert detail["metadata"]["size_bytes"] == len(data)
    assert client.get(f"{KB}/{doc}/content").text == data.decode()
    assert client.get(f"{KB}/{doc}/source-file-url").json()["signed_url"].startswith("https://")


def test_binary_file_content_is_decoded_with_replacement(client: httpx.Client) -> None:
    r = client.post(f"{KB}/file", files={"file": ("x.bin", b"ok\xff\xfe", "application/pdf")})
    doc = r.json()["id"]
    assert r.json()["name"] == "x.bin"
    assert client.get(f"{KB}/{doc}/content").text == "ok\ufffd\ufffd"


def test_file_missing_part_is_422(client: httpx.Client) -> None:
    r = client.post(f"{KB}/file", data={"name": "x"}, files={"other": ("a", b"b")})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "file"]


def test_list_pages_through_everything_once(client: httpx.Client) -> None:
    ids = {create_text(client, f"doc {i}", f"n{i:03}") for i in range(75)}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"page_size": 30}
        if cursor:
            params["cursor"] = cursor
        body = client.get(KB, params=params).json()
        pages += 1
        seen += [d["id"] for d in body["documents"]]
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        cursor = body["next_cursor"]
        assert isinstance(cursor, str)
    assert pages == 3
    assert len(seen) == 75 and set(seen) == ids


def test_list_default_order_newest_first_and_summary_shape(
    client: httpx.Client, clock: FakeClock
) -> None:
    first = create_text(client, "a", "a")
    clock.advance(5)
    second = create_text(client, "b", "b")
    docs = client.get(KB).json()["documents"]
    assert [d["id"] for d in docs] == [second, first]
    assert "extracted_inner_html" not in docs[0]
    assert docs[0]["dependent_agents"] == []


def test_cursor_survives_inserts_between_pages(client: httpx.Client, clock: FakeClock) -> None:
    for i in range(10):
        create_text(client, f"t{i}", f"n{i}")
        clock.advance(1)
    page1 = client.get(KB, params={"page_size": 4}).json()
    create_text(client, "new", "new")  # newest: belongs before page 1, must not shift page 2
    page2 = client.get(KB, params={"page_size": 4, "cursor": page1["next_cursor"]}).json()
    ids1 = [d["id"] for d in page1["documents"]]
    ids2 = [d["id"] for d in page2["documents"]]
    assert not set(ids1) & set(ids2)
    assert [d["name"] for d in page2["documents"]] == ["n5", "n4", "n3", "n2"]


def test_bad_cursor_is_422(client: httpx.Client) -> None:
    r = client.get(KB, params={"cursor": "!!garbage!!"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_search_is_case_insensitive_name_prefix(client: httpx.Client) -> None:
    create_text(client, "x", "Quarters/q1.md · kbctl:birby/staging · abc")
    create_text(client, "x", "quarters/q2.md")
    create_text(client, "x", "other quarters")
    names = {d["name"] for d in client.get(KB, params={"search": "QUARTERS/"}).json()["documents"]}
    assert names == {"Quarters/q1.md · kbctl:birby/staging · abc", "quarters/q2.md"}


def test_types_filter_repeated(client: httpx.Client) -> None:
    create_text(client)
    client.post(f"{KB}/url", json={"url": "https://example.com"})
    client.post(f"{KB}/file", files={"file": ("a.txt", b"abc")})
    got = client.get(KB, params={"types": ["url", "file"]}).json()["documents"]
    assert sorted(d["type"] for d in got) == ["file", "url"]


def test_sort_by_name_ascending(client: httpx.Client) -> None:
    for name in ("b", "C", "a"):
        create_text(client, "x", name)
    got = client.get(KB, params={"sort_by": "name", "sort_direction": "asc"}).json()
    assert [d["name"] for d in got["documents"]] == ["a", "b", "C"]


def test_patch_name_and_content_in_place(client: httpx.Client, clock: FakeClock) -> None:
    doc = create_text(client, "old", "old name")
    clock.advance(3)
    r = client.patch(f"{KB}/{doc}", json={"name": "new name", "content": "new content"})
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == doc and body["name"] == "new name"
    assert body["extracted_inner_html"] == "new content"
    assert body["metadata"]["size_bytes"] == len("new content")
    assert body["metadata"]["last_updated_at_unix_secs"] == int(clock.now())
    assert client.get(f"{KB}/{doc}/content").text == "new content"


def test_patch_content_refused_for_auto_synced_url(client: httpx.Client) -> None:
    r = client.post(f"{KB}/url", json={"url": "https://example.com/a", "enable_auto_sync": True})
    doc = r.json()["id"]
    assert client.get(f"{KB}/{doc}").json()["auto_sync_info"]["minimum_frequency_days"] == 7
    r = client.patch(f"{KB}/{doc}", json={"content": "mine"})
    assert r.status_code == 400
    assert r.json()["detail"]["status"] == "content_update_not_allowed"
    client.patch(f"{KB}/{doc}", json={"enable_auto_sync": False})
    assert client.patch(f"{KB}/{doc}", json={"content": "mine"}).status_code == 200


def test_legacy_patch_is_name_only(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(content_patch_allowed=False)
    doc = create_text(c, "original", "n")
    r = c.patch(f"{KB}/{doc}", json={"content": "changed"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "name"]
    r = c.patch(f"{KB}/{doc}", json={"name": "renamed", "content": "changed"})
    assert r.status_code == 200
    assert r.json()["name"] == "renamed"
    assert c.get(f"{KB}/{doc}/content").text == "original"


def test_update_file_and_refresh(client: httpx.Client) -> None:
    doc = client.post(f"{KB}/file", files={"file": ("a.txt", b"one")}).json()["id"]
    r = client.patch(f"{KB}/{doc}/update-file", files={"file": ("b.txt", b"two!")})
    assert r.status_code == 200
    assert r.json()["filename"] == "b.txt" and r.json()["extracted_inner_html"] == "two!"
    url_doc = client.post(f"{KB}/url", json={"url": "https://example.com/r"}).json()["id"]
    client.patch(f"{KB}/{url_doc}", json={"content": "edited"})
    refreshed = client.post(f"{KB}/{url_doc}/refresh").json()
    assert "https://example.com/r" in refreshed["extracted_inner_html"]
    assert client.post(f"{KB}/{doc}/refresh").status_code == 400


def test_summaries_map(client: httpx.Client) -> None:
    doc = create_text(client)
    r = client.get(f"{KB}/summaries", params={"document_ids": [doc, "missing"]})
    body = r.json()
    assert body[doc]["status"] == "success" and body[doc]["data"]["id"] == doc
    assert body["missing"] == {
        "status": "failure",
        "error_code": 404,
        "error_status": "document_not_found",
        "error_message": "Document 'missing' was not found.",
    }
    assert client.get(f"{KB}/summaries").status_code == 422


def test_folders_paths_counts_and_moves(client: httpx.Client) -> None:
    top = client.post(f"{KB}/folder", json={"name": "top"}).json()["id"]
    sub = client.post(f"{KB}/folder", json={"name": "sub", "parent_folder_id": top}).json()
    assert sub["folder_path"] == [{"id": top}]
    r = client.post(f"{KB}/text", json={"text": "x", "parent_folder_id": sub["id"]})
    doc = r.json()["id"]
    detail = client.get(f"{KB}/{doc}").json()
    assert detail["folder_path"] == [{"id": top, "name": "top"}, {"id": sub["id"], "name": "sub"}]
    folder = client.get(f"{KB}/{top}").json()
    assert (folder["children_count"], folder["document_count"]) == (1, 1)
    children = client.get(KB, params={"parent_folder_id": sub["id"]}).json()["documents"]
    assert [d["id"] for d in children] == [doc]
    below = client.get(KB, params={"ancestor_folder_id": top}).json()["documents"]
    assert {d["id"] for d in below} == {doc, sub["id"]}
    assert client.post(f"{KB}/{doc}/move", json={"move_to": None}).status_code == 200
    assert client.get(f"{KB}/{doc}").json()["folder_path"] == []
    assert client.post(f"{KB}/{top}/move", json={"move_to": sub["id"]}).status_code == 400
    client.post(f"{KB}/bulk-move", json={"document_ids": [doc], "move_to": top})
    assert client.get(f"{KB}/{doc}").json()["folder_parent_id"] == top
    assert client.get(f"{KB}/{top}/content").status_code == 400


def test_unknown_parent_folder_is_404(client: httpx.Client) -> None:
    r = client.post(f"{KB}/text", json={"text": "x", "parent_folder_id": "nope"})
    assert r.status_code == 404
    assert r.json()["detail"]["status"] == "folder_not_found"


def test_legacy_add_endpoint(client: httpx.Client) -> None:
    r = client.post(KB, data={"url": "https://example.com/x"}, files={"unused": ("a", b"")})
    assert r.status_code == 200
    assert client.get(f"{KB}/{r.json()['id']}").json()["type"] == "url"


@pytest.mark.parametrize("path", ["crawl", "crawl/abc"])
def test_crawl_is_not_emulated_but_not_mistaken_for_an_id(client: httpx.Client, path: str) -> None:
    r = client.get(f"{KB}/{path}")
    assert r.status_code == 501
    assert r.json()["detail"]["status"] == "not_emulated"


def test_listing_5000_documents_pages_through_all(world: World, client: httpx.Client) -> None:
    for i in range(5000):
        world.add_document("text", f"doc-{i:05}", LONG_TEXT[: 100 + i % 50])
    cursor = None
    count = 0
    while True:
        params: dict[str, str | int] = {"page_size": 100}
        if cursor:
            params["cursor"] = cursor
        body = client.get(KB, params=params).json()
        count += len(body["documents"])
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    assert count == 5000
