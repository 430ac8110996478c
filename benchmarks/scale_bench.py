"""Every row of the scale table: kbctl next to its critical-path bound and the one-at-a-time loop.

Run: `.venv/bin/python benchmarks/scale_bench.py [--rows change,faults,default,plan,rss,version]
[--documents 2000] [--first 500] [--applies 5] [--latency-ms 50] [--index-seconds 2]
[--server-concurrency 10] [--server process|inprocess]`

Setup (printed first): an emulator on the real clock (a child `kbctl emulator serve`, or with
`--server inprocess` one in this process, whose CPU then counts against kbctl's) answers every
request after
`latency-ms` (slept outside its lock, so requests overlap), finishes an index `index-seconds`
after it was requested, and answers 429 beyond `server-concurrency` requests in flight. kbctl
runs `kbctl.commands` (manifest files read and hashed, live state read, plan, gated apply) with
the default `--concurrency auto` unless a row says otherwise. With L the latency, C the server's
concurrency, I the indexing time, N documents and k changed ones, the bounds are:

- first apply of N: `L + max(3N·L/C, 2N·L/C + I) + 2L` (an agent read; an upload, an index request
  and an index read per document, the last index done I after its request; PATCH and verify);
  kbctl reads indexes 100 per request, so each row also prints its ratio to the tighter bound
  with `⌈N/100⌉` reads in place of N (`L + max((2N + ⌈N/100⌉)·L/C, 2N·L/C + I) + 2L`);
- change of k of N: `⌈N/100⌉·L + L + max(3k·L/C, 2k·L/C + I) + 2L + 2k·L/C` (the listing's
  sequential pages, then as above for k, then a dependents check and a delete per old document);
- no-change plan of N: `⌈N/100⌉·L + L + ⌈N/100⌉·L/C` (the listing pages, the agent read, the
  batch index reads);
- `kbctl --version`: the interpreter's own start-up (`python -c pass`).

The one-at-a-time loop (upload → index → poll every second → read agent → PATCH → delete old, per
document; for a plan, one GET per document) is not run at these sizes: it is computed from its
per-document cost of 5 requests plus the index wait rounded up to the poll, and marked "est".
Rows: `change` (1 % of `--documents`), `faults` (first apply of `--first` with 10 % injected
5xx, next to a fault-free run: list pages after faults vs fault-free), `default` (first apply of
`--first` at the default concurrency, then at the old fixed `--concurrency 4`), `plan`
(no-change plan of `--documents`), `rss` (kbctl's own RSS, now and peak, after each of
`--applies` successive 10 %-churn applies at `--documents`, with snapshots), `version`
(`kbctl --version`, median of 5). Sizes are flags; the defaults run in a few minutes.
Tests never assert on these figures; this script only prints them.
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
from served import ServedEmulator

from kbctl import commands
from kbctl.clock import SystemClock
from kbctl.commands import Endpoint, ProviderHandle, Session
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.emulator.workspace.persistence import Store
from kbctl.identity import canonical_text, content_hash, document_name
from kbctl.model import DocType
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient

AGENT, PROJECT, ENV = "agent_bench", "bench", "bench"
MODEL = "multilingual_e5_large_instruct"
LIST = "GET /v1/convai/knowledge-base"
FILLER = "Flats from 45 to 120 m², parking, schools and parks nearby. " * 16


def text(i: int, version: int) -> bytes:
    return canonical_text(f"# quarter {i:05d}, version {version}\n\n{FILLER}")


class Rig:
    """A manifest folder of N documents and an emulated workspace, both on the real clock.

    With `--server process` the workspace is built here, saved in a state folder and served by
    a child `kbctl emulator serve` (started by `faults`); else the emulator runs in process."""

    def __init__(self, n: int, args: argparse.Namespace, *, attached: bool) -> None:
        self.n, self.args = n, args
        self.clock = SystemClock()
        self.root = Path(tempfile.mkdtemp(prefix="kbctl-scale-"))
        self.world = World(EmulatorConfig(index_seconds=0, rag_quota_bytes=10**10), self.clock)
        self.served: ServedEmulator | None = None
        if args.server == "process":
            self.world.attach_store(Store(self.root / "emulator"))
        self.world.create_agent(AGENT, rag={"enabled": True, "embedding_model": MODEL})
        self.app = EmulatorApp(self.world)
        self.versions = [0] * n
        self.write()
        if attached:  # the workspace already holds every document, indexed (set up directly)
            entries = []
            for i in range(n):
                content = text(i, 0)
                name = document_name(
                    f"quarters/q{i:05d}.md", PROJECT, ENV, content_hash(DocType.TEXT, content)
                )
                doc_id = self.world.add_document("text", name, content.decode())
                self.world.compute_index(doc_id, MODEL)
                entries.append({"type": "text", "name": name, "id": doc_id, "usage_mode": "auto"})
            self.world.set_knowledge_base(AGENT, entries)

    def faults(self, **settings: object) -> None:
        """From now on: the bench's latency, indexing and server limit (plus `settings`)."""
        self.world.config = replace(
            self.world.config,
            latency_ms=self.args.latency_ms,
            index_seconds=self.args.index_seconds,
            max_concurrency=self.args.server_concurrency,
            **settings,  # type: ignore[arg-type]
        )
        if self.args.server == "process":
            self.world.close()  # saved: the child serves it from now on
            # The child dates the set-up's indexes by when they were requested: let them end.
            time.sleep(self.args.index_seconds)
            self.served = ServedEmulator(self.root / "emulator", self.world.config)

    def counts(self) -> tuple[int, int, int]:
        """Requests, listing pages and 429 answers so far."""
        if self.served is not None:
            total, routes, statuses = self.served.counts()
            return total, routes[LIST], statuses[429]
        return self.world.total_calls, self.world.calls[LIST], throttled(self)

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop()

    def write(self) -> None:
        folder = self.root / "manifests" / "quarters"
        folder.mkdir(parents=True, exist_ok=True)
        for i, version in enumerate(self.versions):
            (folder / f"q{i:05d}.md").write_bytes(text(i, version))
        (self.root / ".git").mkdir(exist_ok=True)
        (self.root / "manifests" / "bench.yaml").write_text(
            f"version: 1\nproject: {PROJECT}\nrag:\n  enabled: true\n  embedding_model: {MODEL}\n"
            f"policy:\n  index_timeout: 600\n  max_deletes: {self.n + 1}\n"
            "documents:\n  - glob: quarters/*.md\n"
            f"environments:\n  {ENV}:\n    agent_id: {AGENT}\n    base_url: emulator://unused\n"
        )

    def change(self, count: int) -> None:
        step = max(1, self.n // count)
        for i in range(0, step * count, step):
            self.versions[i] += 1
        self.write()

    def session(self, *, snapshots: bool = False) -> Session:
        return Session(
            self.clock,
            cwd=self.root,
            connect=self.connect,
            snapshots_dir=Path("snaps") if snapshots else None,
        )

    def connect(
        self, session: Session, endpoint: Endpoint, concurrency: int | None
    ) -> ProviderHandle:
        if self.served is not None:
            client = ApiClient(
                self.served.url, "bench-key", self.clock, max_concurrency=concurrency
            )
        else:
            client = ApiClient(
                "http://bench", "bench-key", self.clock,
                transport=httpx.WSGITransport(app=self.app), max_concurrency=concurrency,
            )  # fmt: skip
        return ProviderHandle(ElevenLabsProvider(client), client)

    def timed(self, step: Callable[[], object]) -> tuple[float, int, int]:
        """Seconds, requests and listing pages of `step`."""
        calls, lists, _ = self.counts()
        started = time.perf_counter()
        step()
        seconds = time.perf_counter() - started
        time.sleep(0.2)  # a child's request log lags its answers
        after, lists_after, _ = self.counts()
        return seconds, after - calls, lists_after - lists

    def apply(
        self, *, snapshots: bool = False, concurrency: int | None = None
    ) -> tuple[float, int, int]:
        session = self.session(snapshots=snapshots)
        return self.timed(
            lambda: commands.apply(session, ENV, auto_approve=True, concurrency=concurrency)
        )


def first_bound(n: int, a: argparse.Namespace, *, batched: bool = False) -> float:
    """The issue's bound (one index read per document), or with `batched` the tighter one of a
    client that reads indexes 100 per request, as kbctl does: 2N + ⌈N/100⌉ requests."""
    lat, c = float(a.latency_ms) / 1000, int(a.server_concurrency)
    reads = math.ceil(n / 100) if batched else n
    return lat + max((2 * n + reads) * lat / c, 2 * n * lat / c + float(a.index_seconds)) + 2 * lat


def change_bound(n: int, k: int, a: argparse.Namespace, *, batched: bool = False) -> float:
    lat, c = float(a.latency_ms) / 1000, int(a.server_concurrency)
    return math.ceil(n / 100) * lat + first_bound(k, a, batched=batched) + 2 * k * lat / c


def tighter(secs: float, bound: float) -> str:
    """The ratio to the batched-read bound, for the row's notes."""
    return f"{secs / bound:.2f}x the batched-read bound {bound:.2f}s"


def one_at_a_time(k: int, a: argparse.Namespace) -> float:
    """The sequential loop's cost: 5 requests and the index wait (polled each second) per doc."""
    return float(k * (5 * a.latency_ms / 1000 + math.ceil(a.index_seconds)))


def throttled(rig: Rig) -> int:
    return rig.app.injected.get("max_concurrency", 0)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def current_rss_mb() -> float:
    """This process's resident set now (Linux; the peak elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def row(case: str, ours: float, bound: float, loop: float, extra: str = "") -> None:
    print(
        f"{case:<34} {ours:8.2f}s {bound:8.2f}s {ours / bound:6.2f}x {loop:9.0f}s est "
        f"{loop / ours:7.1f}x  {extra}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="change,faults,default,plan,rss,version")
    p.add_argument("--documents", type=int, default=2000, help="N of change, plan and rss")
    p.add_argument("--first", type=int, default=500, help="N of the first-apply rows")
    p.add_argument("--applies", type=int, default=5, help="successive applies of the rss row")
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--index-seconds", type=float, default=2.0)
    p.add_argument("--server-concurrency", type=int, default=10)
    p.add_argument(
        "--server", choices=("inprocess", "process"), default="process",
        help="the emulator in this process, or a child `kbctl emulator serve` (default)",
    )  # fmt: skip
    a = p.parse_args(argv)
    rows = set(a.rows.split(","))
    print(
        f"latency {a.latency_ms:g} ms, index {a.index_seconds:g} s, server concurrency "
        f"{a.server_concurrency}, kbctl --concurrency auto, emulator {a.server}"
    )
    print(f"{'case':<34} {'kbctl':>9} {'bound':>9} {'ratio':>7} {'one-at-a-time':>13} {'vs':>8}")
    n, first = a.documents, a.first
    if "change" in rows:
        rig = Rig(n, a, attached=True)
        rig.faults()
        k = max(1, n // 100)
        rig.change(k)
        secs, reqs, lists = rig.apply()
        rig.stop()
        row(f"change 1 % of {n:,} ({k})", secs, change_bound(n, k, a), one_at_a_time(k, a),
            f"{reqs} requests, {lists} list pages; "
            + tighter(secs, change_bound(n, k, a, batched=True)))  # fmt: skip
    if "faults" in rows:
        clean = Rig(first, a, attached=False)
        clean.faults()
        secs0, reqs0, lists0 = clean.apply()
        clean.stop()
        faulty = Rig(first, a, attached=False)
        faulty.faults(fail_rate=0.1, seed=7)
        secs, reqs, lists = faulty.apply()
        faulty.stop()
        loop = one_at_a_time(first, a)
        tight = first_bound(first, a, batched=True)
        row(f"first apply {first:,}, no faults", secs0, first_bound(first, a), loop,
            f"{reqs0} requests, {lists0} list pages; {tighter(secs0, tight)}")  # fmt: skip
        ratio = lists / max(lists0, 1)
        row(f"first apply {first:,}, 10 % 5xx", secs, first_bound(first, a), loop,
            f"{reqs} requests, {lists} list pages ({ratio:.1f}x fault-free); "
            + tighter(secs, tight))  # fmt: skip
    if "default" in rows:
        rig = Rig(first, a, attached=False)
        rig.faults()
        secs, reqs, _ = rig.apply()
        rig.stop()
        inflight = "" if rig.served else f"at most {rig.app.peak_inflight} in flight, "
        busy = f"{inflight}{rig.counts()[2]} answered 429"
        tight = first_bound(first, a, batched=True)
        row(f"first apply {first:,}, default (auto)", secs, first_bound(first, a),
            one_at_a_time(first, a),
            f"{reqs} requests, {busy}; {tighter(secs, tight)}")  # fmt: skip
        old = Rig(first, a, attached=False)
        old.faults()
        secs, reqs, _ = old.apply(concurrency=4)
        old.stop()
        row(f"first apply {first:,}, --concurrency 4", secs, first_bound(first, a),
            one_at_a_time(first, a),
            f"{reqs} requests (the old default); {tighter(secs, tight)}")  # fmt: skip
    if "plan" in rows:
        rig = Rig(n, a, attached=True)
        rig.faults()
        session = rig.session()
        secs, reqs, lists = rig.timed(lambda: commands.plan(session, ENV))
        rig.stop()
        pages = math.ceil(n / 100)
        lat = a.latency_ms / 1000
        bound = pages * lat + lat + pages * lat / a.server_concurrency
        row(f"no-change plan, {n:,}", secs, bound, n * lat, f"{reqs} requests, {lists} list pages")
    if "rss" in rows:
        rig = Rig(n, a, attached=True)
        rig.faults()
        peaks, currents = [], []
        for i in range(a.applies):
            rig.change(max(1, n // 10))
            secs, _, _ = rig.apply(snapshots=True)
            peaks.append(peak_rss_mb())
            currents.append(current_rss_mb())
            print(
                f"  apply {i + 1:2d}: {secs:6.2f}s, RSS {currents[-1]:.0f} MB, "
                f"peak {peaks[-1]:.0f} MB",
                flush=True,
            )
        rig.stop()
        half = len(peaks) // 2
        label = f"RSS, {a.applies} applies of 10 % at {n:,}"
        print(
            f"{label:<34} peak {peaks[0]:.0f} → {peaks[-1]:.0f} MB; current after apply "
            f"{half or 1} / {a.applies}: {currents[max(half - 1, 0)]:.0f} / {currents[-1]:.0f} MB"
        )
    if "version" in rows:

        def median(cmd: list[str]) -> float:
            times = []
            for _ in range(5):
                started = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                times.append(time.perf_counter() - started)
            return statistics.median(times)

        ours = median([sys.executable, "-m", "kbctl", "--version"])
        floor = median([sys.executable, "-c", "pass"])
        label = "kbctl --version"
        print(f"{label:<34} {ours:8.2f}s {floor:8.2f}s {ours / floor:6.2f}x  (python -c pass)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
