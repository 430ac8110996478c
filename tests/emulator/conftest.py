"""Fixtures for the emulator's own tests: a FakeClock, a World, and an httpx client that talks
to `EmulatorApp(world)` in process through `httpx.WSGITransport`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World

KB = "/v1/convai/knowledge-base"
AGENTS = "/v1/convai/agents"
API_KEY = "test-key"
LONG_TEXT = (
    "Birby Quarters is a cosy guest house by the lake. Check-in starts at 15:00 and check-out "
    "is until 11:00. Breakfast is served from 07:30 to 10:30 in the winter garden. "
) * 5


def make_client(app: EmulatorApp, api_key: str | None = API_KEY) -> httpx.Client:
    """An httpx client bound to `app` (no network)."""
    headers = {"xi-api-key": api_key} if api_key is not None else {}
    return httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://emulator", headers=headers
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(index_seconds=10.0)


@pytest.fixture
def world(config: EmulatorConfig, clock: FakeClock) -> World:
    return World(config, clock)


@pytest.fixture
def app(world: World) -> EmulatorApp:
    return EmulatorApp(world)


@pytest.fixture
def client(app: EmulatorApp) -> Iterator[httpx.Client]:
    with make_client(app) as c:
        yield c
    assert app.internal_errors == [], app.internal_errors


@pytest.fixture
def new_client(clock: FakeClock) -> Iterator[Callable[..., httpx.Client]]:
    """Build a client over a fresh world with other settings: `new_client(fail_rate=0.5)`."""
    made: list[tuple[httpx.Client, EmulatorApp]] = []

    def build(**settings: object) -> httpx.Client:
        settings.setdefault("index_seconds", 10.0)
        world = World(EmulatorConfig(**settings), clock)  # type: ignore[arg-type]
        app = EmulatorApp(world)
        c = make_client(app)
        made.append((c, app))
        return c

    yield build
    for c, app in made:
        c.close()
        assert app.internal_errors == [], app.internal_errors


def world_of(client: httpx.Client) -> World:
    """The World behind a client made by these fixtures."""
    transport = client._transport
    assert isinstance(transport, httpx.WSGITransport)
    app = transport.app
    assert isinstance(app, EmulatorApp)
    return app.world


def create_text(client: httpx.Client, text: str = LONG_TEXT, name: str = "doc") -> str:
    """Create a text document through the API and return its id."""
    r = client.post(f"{KB}/text", json={"text": text, "name": name})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def attach(client: httpx.Client, agent_id: str, *doc_ids: str, usage_mode: str = "auto") -> dict:
    """PATCH the agent's knowledge_base to exactly `doc_ids` (text documents)."""
    kb = [{"type": "text", "name": d, "id": d, "usage_mode": usage_mode} for d in doc_ids]
    r = client.patch(
        f"{AGENTS}/{agent_id}",
        json={"conversation_config": {"agent": {"prompt": {"knowledge_base": kb}}}},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


_ADAPTERS: dict[object, object] = {}


def strict(type_: Any, data: object) -> object:
    """Validate `data` against an SDK type with pydantic (the SDK itself only constructs)."""
    import pydantic

    adapter = _ADAPTERS.get(type_)
    if adapter is None:
        adapter = _ADAPTERS[type_] = pydantic.TypeAdapter(type_)
    assert isinstance(adapter, pydantic.TypeAdapter)
    return adapter.validate_python(data)
