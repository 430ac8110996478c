"""Load: 20 concurrent clients for 10 seconds against `kbctl emulator serve` (a real process on
127.0.0.1). Only 2xx, the configured 429s and injected (marked) 5xx may come back; afterwards the
server stops on SIGTERM and its state holds exactly what the clients were told exists."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorConfig, Store, World

CLIENTS = 20
SECONDS = 10.0
KB = "/v1/convai/knowledge-base"
AGENTS = "/v1/convai/agents"
TEXT = "Guests may bring dogs. Quiet hours start at 22:00. " * 12


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    alive: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def start_server(state: Path) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable, "-m", "kbctl", "emulator", "serve", "--host", "127.0.0.1", "--port", "0",
        "--state", str(state), "--max-concurrency", "8", "--latency-ms", "5",
        "--index-seconds", "0.5", "--fail-rate", "0.02", "--seed", "11", "--agent", "agent_shared",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    match = re.fullmatch(r"http://127\.0\.0\.1:\d+", line)
    if match is None:
        proc.kill()
        raise AssertionError(
            f"no URL printed: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    return proc, line


def worker(url: str, number: int, stop: float, tally: Tally) -> None:
    mine: list[str] = []
    attached: list[str] = []
    agent_id: str | None = None
    headers = {"xi-api-key": "load"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as c:

        def call(method: str, path: str, **kw: object) -> httpx.Response | None:
            r = c.request(method, path, **kw)  # type: ignore[arg-type]
            with tally.lock:
                tally.statuses[r.status_code] += 1
            if r.status_code < 300:
                return r
            fault = r.headers.get("x-kbctl-emulator-fault")
            body = r.json()  # always JSON
            ok_429 = (
                r.status_code == 429 and body["detail"]["status"] == "too_many_concurrent_requests"
            )
            ok_5xx = r.status_code in (500, 503) and fault == "fail_rate"
            if not (ok_429 or ok_5xx):
                with tally.lock:
                    tally.bad.append(f"{method} {path} -> {r.status_code} {r.text[:200]}")
            return None

        step = 0
        while time.monotonic() < stop:
            step += 1
            if agent_id is None:
                r = call(
                    "POST",
                    f"{AGENTS}/create",
                    json={"name": f"load {number}", "conversation_config": {}},
                )
                agent_id = r.json()["agent_id"] if r else None
                continue
            kind = step % 8
            if kind in (0, 1):
                r = call(
                    "POST",
                    f"{KB}/text",
                    json={"text": f"{TEXT} {number}-{step}", "name": f"c{number}-{step}"},
                )
                if r:
                    mine.append(r.json()["id"])
            elif kind == 2 and mine:
                call("POST", f"{KB}/{mine[-1]}/rag-index", json={"model": "e5_mistral_7b_instruct"})
            elif kind == 3:
                call("GET", KB, params={"page_size": 50, "search": f"c{number}-"})
            elif kind == 4 and mine:
                kb = [{"type": "text", "name": d, "id": d, "usage_mode": "auto"} for d in mine[-3:]]
                r = call(
                    "PATCH",
                    f"{AGENTS}/{agent_id}",
                    json={"conversation_config": {"agent": {"prompt": {"knowledge_base": kb}}}},
                )
                if r:
                    attached = mine[-3:]
            elif kind == 5 and mine:
                call("GET", f"{KB}/{mine[0]}/content")
            elif kind == 6:
                free = [d for d in mine if d not in attached]
                if free and call("DELETE", f"{KB}/{free[0]}"):
                    mine.remove(free[0])
            elif kind == 7:
                call("GET", f"{KB}/search", params={"query": "dogs quiet"})
                call("GET", "/v1/convai/knowledge-base/rag-index")
    with tally.lock:
        tally.alive.update(mine)


@pytest.mark.slow
def test_twenty_clients_for_ten_seconds(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc, url = start_server(state)
    try:
        tally = Tally()
        stop = time.monotonic() + SECONDS
        threads = [
            threading.Thread(target=worker, args=(url, i, stop, tally), daemon=True)
            for i in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SECONDS + 30)
        assert not any(t.is_alive() for t in threads)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    assert tally.bad == [], tally.bad[:10]
    assert "Traceback" not in err
    ok = sum(n for s, n in tally.statuses.items() if s < 300)
    assert ok > 200, tally.statuses
    assert tally.statuses[429] > 0, tally.statuses  # the limit was actually hit
    assert set(tally.statuses) <= {200, 429, 500, 503}

    snapshot = json.loads((state / "state.json").read_text())
    assert snapshot["format"] == "kbctl-emulator-state"
    assert (state / "journal.jsonl").read_text() == ""  # folded in on SIGTERM
    world = World(EmulatorConfig(), FakeClock())
    world.attach_store(Store(state))
    assert {d.id for d in world.documents()} == tally.alive
    assert len(world.agents()) == CLIENTS + 1
    assert not [p for p in os.listdir(state) if p.endswith(".tmp")]
