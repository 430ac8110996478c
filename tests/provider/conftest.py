"""Fixtures of the provider tests: a fake clock and clients over small `httpx.MockTransport`s."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.provider.http import ApiClient

KEY = "sk_test_0123456789abcdef"
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
