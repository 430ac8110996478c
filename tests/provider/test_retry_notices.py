"""Retries are visible: `ApiClient` tells its `on_retry` listener about every retry before waiting,
over a scripted transport, a real socket nobody listens on, and the emulator's fault injection."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.errors import ServerError, TransportError
from kbctl.provider.http import ApiClient
from kbctl.provider.retry import RetryNotice

from .conftest import KEY

MakeClient = Callable[..., ApiClient]


def problem(status: int, code: str, **headers: str) -> httpx.Response:
    body = {"detail": {"status": code, "message": "m"}}
    return httpx.Response(status, json=body, headers=headers)


class Answers:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class SlotWatchingClock(FakeClock):
    """A fake clock that records how many requests hold a limiter slot while it sleeps."""

    def __init__(self) -> None:
        super().__init__()
        self.client: ApiClient | None = None
        self.in_flight_while_sleeping: list[int] = []

    def sleep(self, seconds: float) -> None:
        assert self.client is not None
        self.in_flight_while_sleeping.append(self.client.in_flight)
        super().sleep(seconds)


def test_each_retry_is_reported_before_its_wait(make_client: MakeClient, clock: FakeClock) -> None:
    notices: list[RetryNotice] = []
    answers = Answers(
        problem(503, "system_busy"), problem(500, "boom"), httpx.Response(200, json={})
    )
    client = make_client(answers, on_retry=notices.append)
    start = clock.monotonic()
    client.get_json("/v1/convai/agents/a1")
    assert [(n.status, n.attempt, n.max_attempts) for n in notices] == [(503, 2, 6), (500, 3, 6)]
    assert [n.reason for n in notices] == ["HTTP 503 system_busy", "HTTP 500 boom"]
    assert {(n.method, n.path) for n in notices} == {("GET", "/v1/convai/agents/a1")}
    assert sum(n.delay_s for n in notices) == pytest.approx(clock.monotonic() - start)


def test_notice_reads_like_a_progress_line(make_client: MakeClient) -> None:
    notices: list[RetryNotice] = []
    answers = Answers(problem(503, "system_busy", **{"retry-after": "2"}), httpx.Response(200))
    make_client(answers, on_retry=notices.append).get_json("/v1/x")
    assert notices[0].delay_s == 2.0
    assert notices[0].message() == "503 system_busy, retrying in 2 s, attempt 2/6 (GET /v1/x)"


def test_listener_can_be_attached_after_construction(make_client: MakeClient) -> None:
    notices: list[RetryNotice] = []
    client = make_client(Answers(problem(429, "too_many_concurrent_requests"), httpx.Response(200)))
    client.on_retry = notices.append
    client.get_json("/v1/x")
    assert [n.status for n in notices] == [429]


def test_no_notice_without_a_retry(make_client: MakeClient) -> None:
    notices: list[RetryNotice] = []
    client = make_client(Answers(problem(404, "nope")), on_retry=notices.append)
    with pytest.raises(Exception, match="Not found"):
        client.get_json("/v1/x")
    assert notices == []


def test_a_backoff_sleep_holds_no_limiter_slot() -> None:
    clock = SlotWatchingClock()
    answers = Answers(problem(503, "x"), problem(503, "x"), httpx.Response(200, json={}))
    client = ApiClient(
        "https://api.example.test", KEY, clock, transport=httpx.MockTransport(answers), seed=1
    )
    clock.client = client
    client.get_json("/v1/x")
    assert clock.in_flight_while_sleeping == [0, 0]
    client.close()


def test_an_unreachable_base_url_reports_every_attempt() -> None:
    with socket.socket() as probe:  # a port nobody listens on: bind, note it, close
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = FakeClock()
    notices: list[RetryNotice] = []
    client = ApiClient(
        f"http://127.0.0.1:{port}", KEY, clock, max_retries=3, on_retry=notices.append, seed=2
    )
    with pytest.raises(TransportError) as info:
        client.get_json("/v1/convai/agents/a1")
    client.close()
    assert info.value.summary == f"Could not connect to the API at http://127.0.0.1:{port}"
    assert [(n.attempt, n.max_attempts, n.status) for n in notices] == [
        (2, 4, None),
        (3, 4, None),
        (4, 4, None),
    ]
    assert {n.reason for n in notices} == {"could not connect"}
    assert notices[0].message().startswith("could not connect, retrying in ")


def test_emulator_faults_are_reported_through_the_real_client() -> None:
    clock = FakeClock()
    world = World(EmulatorConfig(fail_rate=0.5, seed=5), clock)
    world.create_agent("agent_x", name="X")
    app = EmulatorApp(world)
    notices: list[RetryNotice] = []
    client = ApiClient(
        "http://emulator",
        KEY,
        clock,
        transport=httpx.WSGITransport(app=app),
        on_retry=notices.append,
        max_retries=20,
        seed=3,
    )
    for _ in range(10):
        assert isinstance(client.get_json("/v1/convai/agents/agent_x"), dict)
    client.close()
    assert len(notices) == app.injected["fail_rate"] > 0
    assert {n.status for n in notices} <= {500, 503}


def test_giving_up_still_reports_the_retries_it_made(make_client: MakeClient) -> None:
    notices: list[RetryNotice] = []
    client = make_client(Answers(problem(502, "x")), max_retries=2, on_retry=notices.append)
    with pytest.raises(ServerError):
        client.get_json("/v1/x")
    assert [n.attempt for n in notices] == [2, 3]
