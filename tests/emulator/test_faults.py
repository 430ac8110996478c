"""Fault injection: latency on the clock, concurrency 429s, seeded 500/503, failure after write."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from tests.emulator.conftest import KB, create_text, make_client, world_of


class GateClock(FakeClock):
    """A fake clock whose `sleep` blocks until the test opens the gate (holds requests in
    flight deterministically)."""

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
    c = new_client(latency_ms=250)
    start = clock.now()
    for _ in range(4):
        c.get(KB)
    assert clock.now() - start == 1.0


def test_concurrency_limit_answers_429() -> None:
    clock = GateClock()
    app = EmulatorApp(World(EmulatorConfig(max_concurrency=2, latency_ms=1), clock))
    results: list[int] = []

    def call() -> None:
        with make_client(app) as c:
            results.append(c.get(KB).status_code)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in threads:
        assert clock.sleeping.acquire(timeout=5)
    with make_client(app) as c:
        r = c.get(KB)
    assert r.status_code == 429
    assert r.json()["detail"]["status"] == "too_many_concurrent_requests"
    assert "retry-after" not in r.headers
    clock.gate.set()
    for t in threads:
        t.join(timeout=5)
    assert results == [200, 200]
    with make_client(app) as c:
        assert c.get(KB).status_code == 200  # the slots were given back
    assert app.injected == {"max_concurrency": 1}


def test_retry_after_toggle() -> None:
    clock = GateClock()
    config = EmulatorConfig(max_concurrency=1, latency_ms=1, retry_after_on_429=True)
    app = EmulatorApp(World(config, clock))
    t = threading.Thread(target=lambda: make_client(app).get(KB))
    t.start()
    assert clock.sleeping.acquire(timeout=5)
    r = make_client(app).get(KB)
    clock.gate.set()
    t.join(timeout=5)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"


def statuses(seed: int, n: int = 60) -> list[int]:
    app = EmulatorApp(World(EmulatorConfig(fail_rate=0.3, seed=seed), FakeClock()))
    with make_client(app) as c:
        return [c.get(KB).status_code for _ in range(n)]


def test_fail_rate_is_reproducible_with_a_seed() -> None:
    first = statuses(7)
    assert first == statuses(7)
    assert first != statuses(8)
    assert set(first) == {200, 500, 503}
    assert 8 <= sum(s != 200 for s in first) <= 30


def test_injected_failures_are_json_and_touch_nothing(
    new_client: Callable[..., httpx.Client],
) -> None:
    c = new_client(fail_rate=1.0)
    r = c.post(f"{KB}/text", json={"text": "x"})
    assert r.status_code in (500, 503)
    assert r.json()["detail"]["status"] in ("something_went_wrong", "service_unavailable")
    assert r.headers["x-kbctl-emulator-fault"] == "fail_rate"
    assert world_of(c).documents() == []


def test_fail_after_write_happens_after_the_write(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(fail_after_write_rate=1.0)
    r = c.post(f"{KB}/text", json={"text": "hello", "name": "ambiguous"})
    assert r.status_code == 500
    assert r.headers["x-kbctl-emulator-fault"] == "fail_after_write_rate"
    docs = world_of(c).documents()
    assert [d.name for d in docs] == ["ambiguous"]
    assert c.get(KB).status_code == 200  # reads are not affected
    r = c.post(f"{KB}/text", json={})
    assert r.status_code == 422  # failed writes are not turned into 500s


def test_auth_comes_before_faults(new_client: Callable[..., httpx.Client]) -> None:
    c = new_client(fail_rate=1.0)
    c.headers.pop("xi-api-key")
    assert c.get(KB).status_code == 401


def test_fault_free_by_default(client: httpx.Client, app: EmulatorApp) -> None:
    for _ in range(20):
        create_text(client)
    assert app.injected == {}
