"""Killing a real `kbctl` process with SIGKILL at a chosen point, for the crash tests of every
provider.

Two ways to choose the point, both deterministic:

- `KillSwitch`: a WSGI wrapper in front of an emulator served on a socket. It counts requests
  and, on the first one its predicate accepts, SIGKILLs the victim process *before* answering
  (the request itself still takes effect: a write whose answer is lost, the harshest case).
- `apply_killed_after`: runs `kbctl apply --json` and SIGKILLs it right after the Nth event its
  predicate accepts in the JSON stream (e.g. the 3rd `document_created`, `agent_updated`), so
  the point is named by what the run has done, whatever the provider's requests are.

Nothing here knows a provider; the tests say what converged means.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: (method, path, number of the request since `arm`) → kill now?
Predicate = Callable[[str, str, int], bool]
#: One `--json` event → does it count towards the kill?
EventPredicate = Callable[[dict[str, Any]], bool]


@dataclass
class KillSwitch:
    """WSGI wrapper: counts requests; kills `victim` on the first one `when` accepts."""

    app: Any  # a WSGI app with `close()` (the emulator's)
    count: int = 0
    log: list[tuple[str, str]] = field(default_factory=list)
    when: Predicate | None = None
    victim: subprocess.Popen[bytes] | None = None
    fired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method, path = str(environ["REQUEST_METHOD"]), str(environ["PATH_INFO"])
        with self.lock:
            self.count += 1
            self.log.append((method, path))
            kill = (
                not self.fired
                and self.when is not None
                and self.victim is not None
                and self.when(method, path, self.count)
            )
            if kill:
                self.fired = True
                assert self.victim is not None
                os.kill(self.victim.pid, signal.SIGKILL)
        result: Iterable[bytes] = self.app(environ, start_response)
        return result

    def close(self) -> None:
        """Save the emulator's state (the server calls it on stop)."""
        self.app.close()

    def arm(self, victim: subprocess.Popen[bytes] | None, when: Predicate | None) -> None:
        """Count from zero again; kill `victim` when `when` says (None: never)."""
        with self.lock:
            self.count, self.fired, self.victim, self.when = 0, False, victim, when
            self.log.clear()


def nth_request(n: int) -> Predicate:
    """The Nth request (or the first after it)."""
    return lambda method, path, count: count >= n


def nth_request_of(method_wanted: str, needle: str, n: int = 1) -> Predicate:
    """The Nth request with this method whose path contains `needle`."""
    seen = [0]

    def when(method: str, path: str, count: int) -> bool:
        if method == method_wanted and needle in path:
            seen[0] += 1
        return seen[0] >= n

    return when


def kbctl_process(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdout: int
) -> subprocess.Popen[bytes]:
    """`python -m kbctl ARGS` as a child process (stderr captured)."""
    return subprocess.Popen(
        [sys.executable, "-m", "kbctl", *args],
        cwd=cwd,
        env=dict(env),
        stdout=stdout,
        stderr=subprocess.PIPE,
    )


@dataclass(frozen=True)
class KilledRun:
    """What a run killed from its event stream did before it died."""

    killed: bool  # False: it ended by itself (before the Nth event, or just after it)
    pid: int
    returncode: int
    events: tuple[dict[str, Any], ...]
    stderr: str


def event_named(name: str, **fields: object) -> EventPredicate:
    """Events called `name` whose fields equal `fields`."""
    return lambda ev: ev.get("event") == name and all(ev.get(k) == v for k, v in fields.items())


def apply_killed_after(
    args: Sequence[str],
    when: EventPredicate,
    nth: int = 1,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = 120.0,
) -> KilledRun:
    """Run `kbctl ARGS --json` and SIGKILL it right after the `nth` event `when` accepts."""
    proc = kbctl_process([*args, "--json"], cwd=cwd, env=env, stdout=subprocess.PIPE)
    timed_out = threading.Event()

    def give_up() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, give_up)
    timer.start()
    events: list[dict[str, Any]] = []
    seen = 0
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            event = json.loads(raw)
            events.append(event)
            if when(event):
                seen += 1
                if seen == nth:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
        _, err = proc.communicate()
    finally:
        timer.cancel()
    if timed_out.is_set():
        raise AssertionError(f"kbctl {' '.join(args)} did not end within {timeout} s")
    killed = proc.returncode == -signal.SIGKILL
    return KilledRun(killed, proc.pid, proc.returncode, tuple(events), err.decode(errors="replace"))
