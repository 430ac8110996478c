"""Fixtures for the OpenAI side of the emulator: a FakeClock, the emulator app with its OpenAI
world, and an httpx client speaking to it in process under `/v1` with a Bearer key."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.emulator.openai import OpenAIWorld

API_KEY = "sk-test"
HANDBOOK = (
    "Refunds are paid within 14 days of a return. Keep the receipt; without it we offer store "
    "credit only. Holiday purchases may be returned until January 31."
)


def make_client(app: EmulatorApp, api_key: str | None = API_KEY) -> httpx.Client:
    """An httpx client bound to `app` (no network), base URL ending in `/v1`."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key is not None else {}
    return httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://emulator/v1", headers=headers
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
