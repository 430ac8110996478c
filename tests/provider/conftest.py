"""Fixtures of the provider tests: a fake clock, clients over small `httpx.MockTransport`s, and
`Rig`s — the real provider and client over the real emulator (`httpx.WSGITransport`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient

KEY = "sk_test_0123456789abcdef"
EMULATOR_KEY = "emulator-test-key-42"
AGENT = "agent_test"
MODEL = "e5_mistral_7b_instruct"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[Callable[..., ApiClient]]:
    """`make_client(handler, **kwargs)`: an ApiClient whose requests go to `handler`."""
    made: list[ApiClient] = []

    def make(handler: Handler, **kwargs: Any) -> ApiClient:
        kwargs.setdefault("seed", 7)
        api_key = kwargs.pop("api_key", KEY)
        client = ApiClient(
            "https://api.example.test",
            api_key,
            clock,
            transport=httpx.MockTransport(handler),
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@dataclasses.dataclass
class Rig:
    """One emulated workspace and the provider that talks to it."""

    world: World
    app: EmulatorApp
    client: ApiClient
    provider: ElevenLabsProvider
    clock: FakeClock

    def reconfigure(self, **changes: object) -> None:
        self.world.config = dataclasses.replace(self.world.config, **changes)  # type: ignore[arg-type]


@pytest.fixture
def make_rig(clock: FakeClock) -> Iterator[Callable[..., Rig]]:
    """`make_rig(**emulator_config)`: a fresh emulated workspace with agent `AGENT`."""
    clients: list[ApiClient] = []

    def make(
        *,
        max_concurrency: int = 8,
        client_key: str = EMULATOR_KEY,
        max_retries: int = 5,
        **config: object,
    ) -> Rig:
        world = World(EmulatorConfig(**config), clock)  # type: ignore[arg-type]
        world.create_agent(AGENT, name="Birby")
        app = EmulatorApp(world)
        client = ApiClient(
            "http://emulator",
            client_key,
            clock,
            transport=httpx.WSGITransport(app=app),
            seed=1,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
        )
        clients.append(client)
        return Rig(world, app, client, ElevenLabsProvider(client), clock)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()
