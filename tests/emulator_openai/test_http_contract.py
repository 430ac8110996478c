"""The wire contract shared by every OpenAI endpoint: Bearer auth, the error envelope with all
four keys, unknown routes, JSON parsing as the SDK sends it, request ids, and injected faults in
OpenAI's shape."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from tests.emulator_openai.conftest import API_KEY, error_of, make_client, new_store, ok, upload


def test_missing_or_wrong_key_is_401_without_echoing_it(app: EmulatorApp) -> None:
    with make_client(app, api_key=None) as anonymous:
        error = error_of(anonymous.get("/vector_stores"), 401)
        assert error["type"] == "invalid_request_error" and error["code"] is None
        assert "Bearer" in error["message"]
    with make_client(app, api_key="sk-wrong-secret") as wrong:
        r = wrong.get("/files")
        error = error_of(r, 401)
        assert error["code"] == "invalid_api_key"
        assert "sk-wrong-secret" not in r.text
    with make_client(app, api_key="sk-test") as basic:
        basic.headers["Authorization"] = "Basic sk-test"
        assert error_of(basic.get("/files"), 401)["code"] is None


def test_any_key_is_accepted_without_api_key_setting(
    new_client: Callable[..., httpx.Client],
) -> None:
    client = new_client(api_key=None)
    client.headers["Authorization"] = "Bearer whatever"
    assert ok(client.get("/vector_stores"))["data"] == []


def test_sdk_headers_are_accepted_and_ignored(client: httpx.Client) -> None:
    headers = {
        "OpenAI-Beta": "assistants=v2",
        "OpenAI-Organization": "org-1",
        "OpenAI-Project": "proj_1",
        "X-Stainless-Poll-Helper": "true",
        "X-Stainless-Raw-Response": "true",
    }
    store = new_store(client)
    assert ok(client.get(f"/vector_stores/{store}", headers=headers))["id"] == store
    assert ok(client.get(f"/vector_stores/{store}"))["id"] == store  # never required


def test_every_answer_has_a_distinct_request_id(client: httpx.Client) -> None:
    first = client.get("/vector_stores")
    second = client.get("/vector_stores/vs_missing")
    third = client.get("/files/x/y/z")
    ids = {r.headers.get("x-request-id") for r in (first, second, third)}
    assert None not in ids and len(ids) == 3


def test_unknown_routes_and_methods(client: httpx.Client) -> None:
    error = error_of(client.get("/vector_stores/vs_1/unknown"), 404)
    assert error["message"] == "Invalid URL (GET /v1/vector_stores/vs_1/unknown)"
    error_of(client.put("/vector_stores"), 405)
    error_of(client.patch("/vector_stores/vs_1"), 405)
    error_of(client.post("/files/file-1"), 405)


def test_elevenlabs_paths_are_not_routed_here(app: EmulatorApp) -> None:
    with make_client(app) as c:
        r = c.get("/convai/knowledge-base")  # ElevenLabs auth: xi-api-key, not Bearer
    assert r.status_code == 401 and "detail" in r.json()
    assert app.openai.world.calls == {}


def test_bad_json_and_non_objects(client: httpx.Client) -> None:
    store = new_store(client)
    headers = {"Content-Type": "application/json"}
    error = error_of(
        client.post(f"/vector_stores/{store}/files", content=b"{", headers=headers), 400
    )
    assert "JSON" in error["message"]
    error = error_of(client.post("/vector_stores", content=b"[1]", headers=headers), 400)
    assert error["code"] == "invalid_type"


def test_empty_bodies_with_json_content_type(client: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    store = ok(client.post("/vector_stores", content=b"", headers=headers))["id"]
    file_id = upload(client)
    ok(client.post(f"/vector_stores/{store}/files", json={"file_id": file_id}))
    batch = ok(client.post(f"/vector_stores/{store}/file_batches", json={"file_ids": [file_id]}))
    cancel = client.post(
        f"/vector_stores/{store}/file_batches/{batch['id']}/cancel", content=b"", headers=headers
    )
    assert ok(cancel)["id"] == batch["id"]
    detach = client.request(
        "DELETE", f"/vector_stores/{store}/files/{file_id}", content=b"", headers=headers
    )
    assert ok(detach) == {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


def test_unknown_parameters_are_rejected_with_their_path(client: httpx.Client) -> None:
    error = error_of(client.post("/vector_stores", json={"name": "x", "colour": "red"}), 400)
    assert error == {
        "message": "Unknown parameter: 'colour'.",
        "type": "invalid_request_error",
        "param": "colour",
        "code": "unknown_parameter",
    }
    store = new_store(client)
    body = {"file_id": upload(client), "chunking_strategy": {"type": "auto", "size": 3}}
    error = error_of(client.post(f"/vector_stores/{store}/files", json=body), 400)
    assert error["param"] == "chunking_strategy.size"


def test_ids_of_the_wrong_kind(client: httpx.Client) -> None:
    store = new_store(client)
    error = error_of(client.get(f"/vector_stores/{store}/file_batches/{store}"), 400)
    assert error["message"] == (
        f"Invalid 'batch_id': '{store}'. Expected an ID that begins with 'vsfb_'."
    )
    assert error["param"] == "batch_id"
    error = error_of(client.get("/vector_stores/file-123"), 400)
    assert error["param"] == "vector_store_id"


def test_not_found_messages(client: httpx.Client) -> None:
    error = error_of(client.get("/files/file-nope"), 404)
    assert error["message"] == "No such File object: file-nope" and error["param"] == "id"
    error = error_of(client.get("/vector_stores/vs_nope"), 404)
    assert error["message"] == "No vector store found with id 'vs_nope'."
    store = new_store(client)
    error_of(client.get(f"/vector_stores/{store}/files/file-nope"), 404)
    error_of(client.get(f"/vector_stores/{store}/file_batches/vsfb_nope"), 404)
    error = error_of(client.post(f"/vector_stores/{store}/files", json={"file_id": "file-x"}), 404)
    assert "file-x" in error["message"]


@pytest.mark.parametrize(("fault", "statuses"), [("fail_rate", {500, 503})])
def test_injected_failures_have_openai_shape_and_change_nothing(
    new_client: Callable[..., httpx.Client], fault: str, statuses: set[int]
) -> None:
    client = new_client(fail_rate=1.0, seed=3)
    for _ in range(6):
        r = client.post("/vector_stores", json={"name": "never"})
        error = error_of(r, r.status_code)
        assert r.status_code in statuses and error["type"] == "server_error"
        assert r.headers["X-Kbctl-Emulator-Fault"] == fault


def test_failure_after_write_keeps_the_write(new_client: Callable[..., httpx.Client]) -> None:
    client = new_client(fail_after_write_rate=1.0)
    r = client.post("/vector_stores", json={"name": "kept"})
    assert error_of(r, 500)["type"] == "server_error"
    client.headers["Authorization"] = "Bearer sk-test"
    listed = ok(client.get("/vector_stores"))  # reads are never failed after the fact
    assert [vs["name"] for vs in listed["data"]] == ["kept"]


class GateClock(FakeClock):
    """A fake clock whose `sleep` blocks until the gate opens (holds requests in flight)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.sleeping = threading.Semaphore(0)

    def sleep(self, seconds: float) -> None:
        self.sleeping.release()
        self.gate.wait(timeout=10)


def test_latency_sleeps_on_the_clock(
    new_client: Callable[..., httpx.Client], clock: FakeClock
) -> None:
    client = new_client(latency_ms=250)
    start = clock.now()
    for _ in range(4):
        ok(client.get("/vector_stores"))
    assert clock.now() - start == 1.0


def test_concurrency_limit_answers_429_in_openai_shape() -> None:
    clock = GateClock()
    config = EmulatorConfig(max_concurrency=2, latency_ms=1, api_key=API_KEY)
    app = EmulatorApp(World(config, clock))
    results: list[int] = []

    def call() -> None:
        with make_client(app) as c:
            results.append(c.get("/vector_stores").status_code)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in threads:
        assert clock.sleeping.acquire(timeout=5)
    with make_client(app) as c:
        r = c.get("/files")
    error = error_of(r, 429)
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
    assert r.headers["X-Kbctl-Emulator-Fault"] == "max_concurrency"
    clock.gate.set()
    for t in threads:
        t.join(timeout=10)
    assert results == [200, 200]
    assert app.openai.injected == {"max_concurrency": 1}


def test_uploads_api_is_answered_as_not_emulated(client: httpx.Client) -> None:
    body = {"bytes": 3, "filename": "a.md", "mime_type": "text/markdown", "purpose": "assistants"}
    error = error_of(client.post("/uploads", json=body), 404)
    assert error["message"] == "Invalid URL (POST /v1/uploads)"


def test_search_is_not_failed_after_the_fact(new_client: Callable[..., httpx.Client]) -> None:
    client = new_client(fail_after_write_rate=1.0, index_seconds=0)
    client.post("/vector_stores", json={"name": "kb"})  # answered 500, but made
    store = ok(client.get("/vector_stores"))["data"][0]["id"]
    assert ok(client.post(f"/vector_stores/{store}/search", json={"query": "x"}))["data"] == []
