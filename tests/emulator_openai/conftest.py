"""Fixtures for the OpenAI side of the emulator: a FakeClock, the emulator app with its OpenAI
world, and an httpx client speaking to it in process under `/v1` with a Bearer key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pydantic
import pytest
from openai.types import FileDeleted, FileObject, VectorStore, VectorStoreDeleted
from openai.types.shared import ErrorObject
from openai.types.vector_store_search_response import VectorStoreSearchResponse
from openai.types.vector_stores import (
    FileContentResponse,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileDeleted,
)

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.emulator.openai import OpenAIWorld, is_openai_path

API_KEY = "sk-test"
HANDBOOK = (
    "Refunds are paid within 14 days of a return. Keep the receipt; without it we offer store "
    "credit only. Holiday purchases may be returned until January 31."
)


_MODELS: dict[str, object] = {
    "file": FileObject,
    "vector_store": VectorStore,
    "vector_store.deleted": VectorStoreDeleted,
    "vector_store.file": VectorStoreFile,
    "vector_store.file.deleted": VectorStoreFileDeleted,
    "vector_store.files_batch": VectorStoreFileBatch,
}
_ADAPTERS: dict[object, pydantic.TypeAdapter[object]] = {}


def sdk_valid(model: Any, data: object) -> None:
    """Validate `data` against an SDK model (the SDK's own strict response validation)."""
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = pydantic.TypeAdapter(model)
    adapter.validate_python(data)


def check_shape(body: object) -> None:
    """Every JSON answer must parse with the SDK's models, strictly."""
    assert isinstance(body, dict), body
    kind = body.get("object")
    if "error" in body:
        assert set(body["error"]) == {"message", "type", "param", "code"}
        sdk_valid(ErrorObject, body["error"])
    elif kind == "file" and "deleted" in body:
        sdk_valid(FileDeleted, body)
    elif kind in _MODELS:
        sdk_valid(_MODELS[kind], body)
    elif kind == "list":
        assert {"data", "first_id", "last_id", "has_more"} <= set(body)
        for item in body["data"]:
            check_shape(item)
    elif kind == "vector_store.search_results.page":
        assert isinstance(body["search_query"], list) and body["has_more"] is False
        for item in body["data"]:
            sdk_valid(VectorStoreSearchResponse, item)
    elif kind == "vector_store.file_content.page":
        for item in body["data"]:
            sdk_valid(FileContentResponse, item)
    else:
        raise AssertionError(f"unknown answer shape: {body}")


def _validate(response: httpx.Response) -> None:
    response.read()
    if not is_openai_path(response.request.url.path):
        return  # the ElevenLabs side answers in its own format
    assert response.headers.get("x-request-id", "").startswith("req_")
    if response.headers.get("content-type") == "application/json":
        check_shape(response.json())


def make_client(app: EmulatorApp, api_key: str | None = API_KEY) -> httpx.Client:
    """An httpx client bound to `app` (no network), base URL ending in `/v1`; every answer is
    checked against the SDK's models."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key is not None else {}
    return httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://emulator/v1",
        headers=headers,
        event_hooks={"response": [_validate]},
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(index_seconds=10.0, api_key=API_KEY)


@pytest.fixture
def app(config: EmulatorConfig, clock: FakeClock) -> EmulatorApp:
    return EmulatorApp(World(config, clock))


@pytest.fixture
def world(app: EmulatorApp) -> OpenAIWorld:
    return app.openai.world


@pytest.fixture
def client(app: EmulatorApp) -> Iterator[httpx.Client]:
    with make_client(app) as c:
        yield c
    assert app.openai.internal_errors == [], app.openai.internal_errors


@pytest.fixture
def new_client(clock: FakeClock) -> Iterator[Callable[..., httpx.Client]]:
    """A client over a fresh emulator with other settings: `new_client(openai_reattach="error")`."""
    made: list[tuple[httpx.Client, EmulatorApp]] = []

    def build(**settings: object) -> httpx.Client:
        settings.setdefault("index_seconds", 10.0)
        settings.setdefault("api_key", API_KEY)
        app = EmulatorApp(World(EmulatorConfig(**settings), clock))  # type: ignore[arg-type]
        c = make_client(app)
        made.append((c, app))
        return c

    yield build
    for c, app in made:
        c.close()
        assert app.openai.internal_errors == [], app.openai.internal_errors


def ok(response: httpx.Response) -> dict:
    """The JSON body of a 200."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def upload(client: httpx.Client, text: str = HANDBOOK, name: str = "handbook.md") -> str:
    """Upload a File (purpose assistants) and return its id."""
    r = client.post(
        "/files",
        files={"file": (name, text.encode(), "text/markdown")},
        data={"purpose": "assistants"},
    )
    return str(ok(r)["id"])


def new_store(client: httpx.Client, **body: object) -> str:
    """Create a vector store and return its id."""
    return str(ok(client.post("/vector_stores", json=body))["id"])


def attach(client: httpx.Client, store: str, file_id: str, **extra: object) -> dict:
    """Attach a File to a store."""
    return ok(client.post(f"/vector_stores/{store}/files", json={"file_id": file_id, **extra}))


def error_of(response: httpx.Response, status: int) -> dict:
    """The `error` object of an OpenAI-shaped error answer with `status`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)
