"""`kbctl emulator serve` in its own process, for benchmarks whose figures the emulator's CPU
must not share a GIL with.

The workspace is built in process (fast, no HTTP) in a state folder, saved, then served by a
child `python -m kbctl emulator serve --state … --verbose`; its request log (stderr) is read by a
thread and counted per route, so a benchmark can print requests, list pages and 429s as the
in-process emulator's counters do.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from kbctl.emulator import EmulatorConfig

#: `127.0.0.1 - - [date] "GET /v1/convai/knowledge-base?page_size=100 HTTP/1.1" 200 52`
#: A path segment that is an id (ElevenLabs ids are 20 alphanumerics): counted as `{id}`, so the
#: counter does not grow with every document an apply touches.
_ID = re.compile(r"^[A-Za-z0-9]{20}$")
_LOG = re.compile(r'"(?P<method>[A-Z]+) (?P<path>[^ ?"]*)[^"]*" (?P<status>\d{3}) ')


class ServedEmulator:
    """A child emulator process serving the workspace saved in `state` with `config`."""

    def __init__(self, state: Path, config: EmulatorConfig) -> None:
        args = [
            sys.executable, "-m", "kbctl", "emulator", "serve", "--port", "0", "--verbose",
            "--state", str(state), "--index-seconds", str(config.index_seconds),
            "--latency-ms", str(config.latency_ms), "--fail-rate", str(config.fail_rate),
            "--seed", str(config.seed), "--rag-quota-bytes", str(config.rag_quota_bytes),
        ]  # fmt: skip
        if config.max_concurrency is not None:
            args += ["--max-concurrency", str(config.max_concurrency)]
        self._proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self._proc.kill()
            raise RuntimeError(f"emulator did not start: {self._proc.stderr.read()}")
        self._lock = threading.Lock()
        self.routes: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self._reader = threading.Thread(target=self._read, args=(self._proc.stderr,), daemon=True)
        self._reader.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            match = _LOG.search(line)
            if match is None:
                continue
            path = "/".join(_ID.sub("{id}", part) for part in match["path"].split("/"))
            with self._lock:
                self.routes[f"{match['method']} {path}"] += 1
                self.statuses[int(match["status"])] += 1

    def counts(self) -> tuple[int, Counter[str], Counter[int]]:
        """Requests so far, by route and by status (the log lags an answer by microseconds)."""
        with self._lock:
            return sum(self.routes.values()), Counter(self.routes), Counter(self.statuses)

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._reader.join(timeout=5)
