"""Processing on the injected clock: `in_progress` until `index_seconds`, then the outcome
decided at attach time; counts, usage and statuses of stores and batches derived from it through
every transition, detach, File deletion and cancellation."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from kbctl.clock import FakeClock
from kbctl.emulator.openai import OpenAIWorld
from tests.emulator_openai.conftest import HANDBOOK, attach, error_of, new_store, ok, upload

ZERO = {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0}


def counts(**changes: int) -> dict[str, int]:
    return {**ZERO, **changes}


def store_of(client: httpx.Client, store: str) -> dict:
    return ok(client.get(f"/vector_stores/{store}"))


def test_a_file_is_in_progress_until_index_seconds_pass(
    client: httpx.Client, clock: FakeClock
) -> None:
    store = new_store(client, name="kb")
    file_id = upload(client)
    created = attach(client, store, file_id, attributes={"dept": "hr"})
    assert created["status"] == "in_progress" and created["usage_bytes"] == 0
    assert created["id"] == file_id and created["vector_store_id"] == store
    assert created["last_error"] is None
    vs = store_of(client, store)
    assert vs["status"] == "in_progress" and vs["file_counts"] == counts(in_progress=1, total=1)
    assert vs["usage_bytes"] == 0
    polled = client.get(f"/vector_stores/{store}/files/{file_id}")
    assert ok(polled)["status"] == "in_progress"
    assert polled.headers["openai-poll-after-ms"] == "1000"  # a tenth of 10 s, capped at 1 s
    clock.advance(9.9)
    assert ok(client.get(f"/vector_stores/{store}/files/{file_id}"))["status"] == "in_progress"
    clock.advance(0.1)
    done = client.get(f"/vector_stores/{store}/files/{file_id}")
    assert ok(done)["status"] == "completed" and "openai-poll-after-ms" not in done.headers
    assert ok(done)["usage_bytes"] == len(HANDBOOK.encode())
    vs = store_of(client, store)
    assert vs["status"] == "completed" and vs["file_counts"] == counts(completed=1, total=1)
    assert vs["usage_bytes"] == len(HANDBOOK.encode())


def test_failures_decided_by_content_and_type(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    client = new_client(fail_index_containing=("BROKEN",), index_seconds=1.0)
    store = new_store(client)
    cases = {
        upload(client, "fine text", "a.md"): None,
        upload(client, "this is BROKEN", "b.md"): "server_error",
        upload(client, "binary", "c.exe"): "unsupported_file",
        upload(client, "no extension", "upload"): "unsupported_file",
        upload(client, "  \n ", "d.txt"): "invalid_file",
    }
    for file_id in cases:
        assert attach(client, store, file_id)["status"] == "in_progress"
    clock.advance(1.0)
    for file_id, code in cases.items():
        got = ok(client.get(f"/vector_stores/{store}/files/{file_id}"))
        if code is None:
            assert got["status"] == "completed" and got["last_error"] is None
        else:
            assert got["status"] == "failed" and got["usage_bytes"] == 0
            assert got["last_error"]["code"] == code and got["last_error"]["message"]
    vs = store_of(client, store)
    assert vs["file_counts"] == counts(completed=1, failed=4, total=5)
    assert vs["usage_bytes"] == len(b"fine text") and vs["status"] == "completed"


def test_zero_index_seconds_completes_at_once(new_client: Callable[..., httpx.Client]) -> None:
    client = new_client(index_seconds=0)
    store = new_store(client)
    assert attach(client, store, upload(client))["status"] == "completed"


def test_detach_and_file_delete_keep_counts_right(client: httpx.Client, clock: FakeClock) -> None:
    one, two = new_store(client), new_store(client)
    a, b = upload(client, "alpha text", "a.md"), upload(client, "beta text", "b.md")
    for store in (one, two):
        attach(client, store, a)
        attach(client, store, b)
    clock.advance(10)
    assert store_of(client, one)["usage_bytes"] == len("alpha text") + len("beta text")
    ok(client.delete(f"/vector_stores/{one}/files/{a}"))
    vs = store_of(client, one)
    assert vs["file_counts"] == counts(completed=1, total=1)
    assert vs["usage_bytes"] == len("beta text")
    assert ok(client.get(f"/files/{a}"))["id"] == a  # detaching keeps the File
    assert ok(client.delete(f"/files/{b}")) == {"id": b, "object": "file", "deleted": True}
    for store in (one, two):
        listed = ok(client.get(f"/vector_stores/{store}/files"))["data"]
        assert b not in [f["id"] for f in listed]
    assert store_of(client, two)["file_counts"] == counts(completed=1, total=1)
    error_of(client.delete(f"/vector_stores/{one}/files/{a}"), 404)


def test_lagging_file_delete_leaves_a_stale_entry(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    client = new_client(openai_file_delete_detaches=False, index_seconds=0)
    store = new_store(client)
    file_id = upload(client, "refund rules", "a.md")
    attach(client, store, file_id)
    ok(client.delete(f"/files/{file_id}"))
    listed = ok(client.get(f"/vector_stores/{store}/files"))["data"]
    assert [f["id"] for f in listed] == [file_id]  # still listed, as pitfall 11.2 reports
    assert store_of(client, store)["file_counts"]["total"] == 1
    hits = ok(client.post(f"/vector_stores/{store}/search", json={"query": "refund"}))
    assert hits["data"] == []  # but never found
    ok(client.delete(f"/vector_stores/{store}/files/{file_id}"))
    assert store_of(client, store)["file_counts"] == ZERO


def test_reattaching_follows_the_setting(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    existing = new_client()
    store = new_store(existing)
    file_id = upload(existing)
    first = attach(existing, store, file_id, attributes={"v": 1})
    clock.advance(10)
    again = attach(existing, store, file_id, attributes={"v": 2})
    assert again["attributes"] == {"v": 1} and again["status"] == "completed"
    assert again["created_at"] == first["created_at"]

    replace = new_client(openai_reattach="replace")
    store = new_store(replace)
    file_id = upload(replace)
    attach(replace, store, file_id, attributes={"v": 1})
    clock.advance(10)
    again = attach(replace, store, file_id, attributes={"v": 2})
    assert again["attributes"] == {"v": 2} and again["status"] == "in_progress"
    assert store_of(replace, store)["file_counts"] == counts(in_progress=1, total=1)

    strict = new_client(openai_reattach="error")
    store = new_store(strict)
    file_id = upload(strict)
    attach(strict, store, file_id)
    r = strict.post(f"/vector_stores/{store}/files", json={"file_id": file_id})
    assert error_of(r, 400)["code"] == "file_already_attached"


def test_attribute_updates_replace_or_merge(
    new_client: Callable[..., httpx.Client],
) -> None:
    for mode, expected in (("replace", {"b": 2}), ("merge", {"a": 1, "b": 2})):
        client = new_client(openai_attributes_update=mode)
        store = new_store(client)
        file_id = upload(client)
        attach(client, store, file_id, attributes={"a": 1})
        url = f"/vector_stores/{store}/files/{file_id}"
        assert ok(client.post(url, json={"attributes": {"b": 2}}))["attributes"] == expected
        assert ok(client.get(url))["attributes"] == expected
        assert ok(client.post(url, json={"attributes": None}))["attributes"] is None
        assert error_of(client.post(url, json={}), 400)["code"] == "missing_required_parameter"


def test_store_chunking_applies_only_to_its_file_ids(client: httpx.Client) -> None:
    static = {
        "type": "static",
        "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50},
    }
    early, late = upload(client), upload(client)
    store = ok(
        client.post("/vector_stores", json={"file_ids": [early], "chunking_strategy": static})
    )
    assert store["file_counts"] == counts(in_progress=1, total=1)
    got = ok(client.get(f"/vector_stores/{store['id']}/files/{early}"))
    assert got["chunking_strategy"] == static
    later = attach(client, store["id"], late)  # not inherited (openai-python #2380)
    assert later["chunking_strategy"]["static"] == {
        "max_chunk_size_tokens": 800,
        "chunk_overlap_tokens": 400,
    }
    r = client.post("/vector_stores", json={"file_ids": [early, "file-missing"]})
    error_of(r, 404)
    assert len(ok(client.get("/vector_stores"))["data"]) == 1  # nothing half-made


def test_batches_count_their_files_and_cancel(client: httpx.Client, clock: FakeClock) -> None:
    store = new_store(client)
    a, b, c = (
        upload(client, "one", "a.md"),
        upload(client, "two", "b.md"),
        upload(client, "3", "c.md"),
    )
    body = {"file_ids": [a, b, a], "attributes": {"dept": "hr"}}
    batch = ok(client.post(f"/vector_stores/{store}/file_batches", json=body))
    assert batch["object"] == "vector_store.files_batch" and batch["status"] == "in_progress"
    assert batch["file_counts"] == counts(in_progress=2, total=2)  # a repeated id counts once
    url = f"/vector_stores/{store}/file_batches/{batch['id']}"
    assert ok(client.get(url + "/files"))["data"][0]["attributes"] == {"dept": "hr"}
    clock.advance(10)
    done = client.get(url)
    assert ok(done)["status"] == "completed" and "openai-poll-after-ms" not in done.headers
    assert ok(done)["file_counts"] == counts(completed=2, total=2)

    second = ok(client.post(f"/vector_stores/{store}/file_batches", json={"file_ids": [c]}))
    url = f"/vector_stores/{store}/file_batches/{second['id']}"
    assert client.get(url).headers["openai-poll-after-ms"] == "1000"
    cancelled = ok(client.post(url + "/cancel"))
    assert cancelled["status"] == "cancelled"
    assert cancelled["file_counts"] == counts(cancelled=1, total=1)
    clock.advance(10)
    assert ok(client.get(f"/vector_stores/{store}/files/{c}"))["status"] == "cancelled"
    assert store_of(client, store)["file_counts"] == counts(completed=2, cancelled=1, total=3)
    # cancelling a finished batch changes no file
    first = f"/vector_stores/{store}/file_batches/{batch['id']}"
    assert ok(client.post(first + "/cancel"))["file_counts"] == counts(completed=2, total=2)
    assert [f["id"] for f in ok(client.get(url + "/files"))["data"]] == [c]


def test_a_batch_whose_files_all_fail_is_failed(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    client = new_client(fail_index_containing=("BROKEN",))
    store = new_store(client)
    ids = [upload(client, "BROKEN one", "a.md"), upload(client, "BROKEN two", "b.md")]
    files = [{"file_id": i, "attributes": {"n": n}} for n, i in enumerate(ids)]
    batch = ok(client.post(f"/vector_stores/{store}/file_batches", json={"files": files}))
    clock.advance(10)
    got = ok(client.get(f"/vector_stores/{store}/file_batches/{batch['id']}"))
    assert got["status"] == "failed" and got["file_counts"] == counts(failed=2, total=2)
    failed = ok(
        client.get(f"/vector_stores/{store}/file_batches/{batch['id']}/files?filter=failed")
    )
    assert sorted(f["attributes"]["n"] for f in failed["data"]) == [0, 1]


def test_deleting_a_store_keeps_its_files(client: httpx.Client) -> None:
    store = new_store(client)
    file_id = upload(client)
    batch = ok(client.post(f"/vector_stores/{store}/file_batches", json={"file_ids": [file_id]}))
    deleted = ok(client.delete(f"/vector_stores/{store}"))
    assert deleted == {"id": store, "object": "vector_store.deleted", "deleted": True}
    error_of(client.get(f"/vector_stores/{store}"), 404)
    error_of(client.get(f"/vector_stores/{store}/file_batches/{batch['id']}"), 404)
    assert ok(client.get(f"/files/{file_id}"))["id"] == file_id


def test_expired_stores(client: httpx.Client, clock: FakeClock) -> None:
    body = {"name": "short", "expires_after": {"anchor": "last_active_at", "days": 1}}
    vs = ok(client.post("/vector_stores", json=body))
    assert vs["expires_after"] == {"anchor": "last_active_at", "days": 1}
    assert vs["expires_at"] == vs["last_active_at"] + 86_400
    file_id = upload(client)
    clock.advance(3600)
    attach(client, vs["id"], file_id)  # activity moves the expiry
    moved = store_of(client, vs["id"])
    assert moved["expires_at"] == vs["expires_at"] + 3600
    clock.advance(86_400)
    assert store_of(client, vs["id"])["status"] == "expired"
    r = client.post(f"/vector_stores/{vs['id']}/search", json={"query": "refund"})
    assert error_of(r, 400)["code"] == "vector_store_expired"
    cleared = ok(client.post(f"/vector_stores/{vs['id']}", json={"expires_after": None}))
    assert cleared["status"] == "completed" and cleared["expires_at"] is None


def test_content_endpoints(client: httpx.Client, clock: FakeClock) -> None:
    raw = "Zürich rules\n" + HANDBOOK
    file_id = upload(client, raw, "z.md")
    # As the live API: a File for file search (purpose assistants) is never given back.
    refused = error_of(client.get(f"/files/{file_id}/content"), 400)
    assert refused["message"] == "Not allowed to download files of purpose: assistants"
    assert refused["type"] == "invalid_request_error"
    store = new_store(client)
    attach(client, store, file_id)
    url = f"/vector_stores/{store}/files/{file_id}/content"
    empty = ok(client.get(url))
    assert empty == {
        "object": "vector_store.file_content.page",
        "data": [],
        "has_more": False,
        "next_page": None,
    }
    clock.advance(10)
    assert ok(client.get(url))["data"] == [{"type": "text", "text": raw}]


def test_refused_reattach_in_a_batch_changes_nothing(
    new_client: Callable[..., httpx.Client],
) -> None:
    client = new_client(openai_reattach="error")
    store = new_store(client)
    attached, fresh = upload(client), upload(client)
    attach(client, store, attached)
    r = client.post(f"/vector_stores/{store}/file_batches", json={"file_ids": [fresh, attached]})
    assert error_of(r, 400)["code"] == "file_already_attached"
    assert store_of(client, store)["file_counts"]["total"] == 1
    twice = ok(client.post("/vector_stores", json={"file_ids": [fresh, fresh]}))
    assert twice["file_counts"]["total"] == 1  # a repeated id counts once, even here


def test_inspection_for_tests(client: httpx.Client, world: OpenAIWorld, clock: FakeClock) -> None:
    store = new_store(client, name="kb")
    first = upload(client)
    attach(client, store, first, attributes={"k": "v"})
    assert world.file_ids() == [first] and world.files()[0]["filename"] == "handbook.md"
    assert [vs["name"] for vs in world.stores()] == ["kb"]
    assert [f["status"] for f in world.store_files(store)] == ["in_progress"]
    world.replace_config(fail_index_containing=("Refunds",))
    second = upload(client)
    attach(client, store, second)
    clock.advance(10)
    assert [(f["id"], f["status"]) for f in world.store_files(store)] == [
        (first, "completed"),
        (second, "failed"),
    ]
    assert world.stores()[0]["file_counts"] == counts(completed=1, failed=1, total=2)
    assert world.calls["POST /v1/vector_stores/{vector_store_id}/files"] == 2


def test_file_downloads_by_purpose(new_client: Callable[..., httpx.Client]) -> None:
    strict, lenient = new_client(), new_client(openai_download_any_purpose=True)
    for purpose, allowed in (("batch", True), ("user_data", False), ("assistants", False)):
        for client in (strict, lenient):
            r = client.post(
                "/files",
                files={"file": ("q.md", b"question", "text/markdown")},
                data={"purpose": purpose},
            )
            got = client.get(f"/files/{ok(r)['id']}/content")
            if allowed or client is lenient:
                assert got.status_code == 200 and got.content == b"question"
                assert got.headers["content-type"] == "application/octet-stream"
            else:
                assert error_of(got, 400)["message"].endswith(f"purpose: {purpose}")
