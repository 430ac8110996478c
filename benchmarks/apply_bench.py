"""How fast `kbctl apply` replaces N changed documents, next to a lower bound and a naive loop.

Run: `.venv/bin/python benchmarks/apply_bench.py [--sizes 50 500] [--latency-ms 50]
[--index-seconds 2] [--concurrency 4] [--naive-max 50] [--with-snapshots]`

Setup. An in-process emulator on the real clock answers every request after `latency-ms`
(slept outside its lock, so requests in flight overlap) and finishes each RAG index
`index-seconds` after it was requested. A baseline of N documents is applied first (untimed,
without latency); then every document's content changes and three things are timed:

- kbctl: `kbctl.commands.apply` on a manifest whose N files all changed (the manifest read and
  hashed, the live state read, the plan, upload, index gate, one PATCH, verify, delete) with
  `concurrency` requests in flight: what `kbctl apply` does, minus process start-up and (unless
  `--with-snapshots`) the snapshot files.
- lower bound: what a perfectly parallel client limited by the same concurrency C needs, with
  L the latency and I the indexing time:

      ceil(N/100)·L + L  +  max(3N·L/C, 2N·L/C + I)  +  2L  +  2N·L/C

  listing pages and the agent read; then per document an upload and an index request (2N
  calls), whose last index finishes I after its request, or, when requests are the bottleneck,
  a third call each (3N: the index read); the PATCH and its verification; and per superseded
  document a dependents check and a delete (2N). The index cannot be switched to before it
  finished, and calls are throughput-bound (at most C in flight, each taking L).
- naive: the sequential loop teams ran by hand (user research): for each document upload →
  request index → poll every second until succeeded → read the agent, PATCH the array with
  the new id in place of the old → delete the old one. It runs against the same provider. Above
  `--naive-max` documents it is not run but extrapolated linearly from the largest size run
  (it is linear by construction), and marked "est.".

Goal (issue 5): kbctl within 1.5x of the lower bound, and at least 10x faster than the naive
loop at 50 documents. `requests` counts every API request the timed apply made (the
emulator's counters), `lists` the listing pages among them (one listing per apply: the plan's,
plus the lease's page of folders), `rss` the process's peak resident memory so far (MB).
`req/round` is the most requests one index-gate poll round made (goal: ⌈N/100⌉, the batch
read's 100 documents per request) and `rounds` how many rounds there were.
Tests never assert on these times; this script only prints them.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

from kbctl import commands
from kbctl.apply import ApplyOptions, apply_agent_plan, ignore
from kbctl.clock import SystemClock
from kbctl.commands import Endpoint, ProviderHandle, Session
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.identity import canonical_text, content_hash, document_name
from kbctl.model import (
    DocType,
    DocumentSpec,
    IndexStatus,
    KbEntry,
    Policy,
    RagSettings,
    Target,
    UsageMode,
)
from kbctl.plan.planner import plan_target
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient

AGENT = "agent_bench"
PROJECT = "bench"
ENV = "bench"
MODEL = "multilingual_e5_large_instruct"
LIST = "GET /v1/convai/knowledge-base"  # one listing page (the emulator's route key)
FILLER = "Flats from 45 to 120 m², parking, schools and parks nearby. " * 16


def specs(n: int, version: int) -> tuple[DocumentSpec, ...]:
    out = []
    for i in range(n):
        content = canonical_text(f"# quarter {i:04d}, version {version}\n\n{FILLER}")
        out.append(
            DocumentSpec(
                f"quarters/q{i:04d}.md",
                DocType.TEXT,
                UsageMode.AUTO,
                content,
                content_hash(DocType.TEXT, content),
            )
        )
    return tuple(out)


def write_manifest(root: Path, documents: tuple[DocumentSpec, ...], n: int) -> None:
    """The bench's manifest and its N files under `root` (what `kbctl apply` reads)."""
    for spec in documents:
        path = root / "manifests" / spec.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spec.content)
    (root / ".git").mkdir(exist_ok=True)
    (root / "manifests" / "bench.yaml").write_text(
        f"version: 1\nproject: {PROJECT}\nrag:\n  enabled: true\n  embedding_model: {MODEL}\n"
        f"policy:\n  index_timeout: 600\n  max_deletes: {n + 1}\n"
        "documents:\n  - glob: quarters/*.md\n"
        f"environments:\n  {ENV}:\n    agent_id: {AGENT}\n    base_url: emulator://unused\n"
    )


def target(documents: tuple[DocumentSpec, ...], n: int) -> Target:
    return Target(
        manifest="bench.yaml",
        project=PROJECT,
        environment=ENV,
        agent_id=AGENT,
        base_url="emulator://bench",
        api_key_env="ELEVENLABS_API_KEY",
        protect=False,
        rag=RagSettings(enabled=True, embedding_model=MODEL),
        policy=Policy(index_timeout=600, max_deletes=n + 1),
        documents=documents,
    )


class Bench:
    """One emulated workspace with N documents applied, ready for a timed change."""

    def __init__(self, n: int, args: argparse.Namespace) -> None:
        self.n = n
        self.args = args
        self.clock = SystemClock()
        self.world = World(EmulatorConfig(index_seconds=0, rag_quota_bytes=10**9), self.clock)
        self.world.create_agent(AGENT)
        self.app = EmulatorApp(self.world)
        self.client = ApiClient(
            "http://bench",
            "bench-key",
            self.clock,
            transport=httpx.WSGITransport(app=self.app),
            max_concurrency=args.concurrency,
        )
        self.provider = ElevenLabsProvider(self.client)
        self.version = 0
        self.tmp = Path(tempfile.mkdtemp(prefix="kbctl-bench-"))
        base = target(specs(n, 0), n)
        live = self.provider.read_state(AGENT, PROJECT, ENV)
        apply_agent_plan(
            plan_target(base, live),
            base,
            self.provider,
            self.clock,
            events=ignore,
            options=ApplyOptions(concurrency=16),
        )
        self.world.config = replace(
            self.world.config,
            latency_ms=args.latency_ms,
            index_seconds=args.index_seconds,
        )

    def kbctl(self, with_snapshots: bool) -> tuple[float, tuple[int, int], tuple[int, int]]:
        """Change every document, then `kbctl.commands.apply`; returns the wall time, the
        requests per index-gate poll round and rounds, and (requests, listing pages) made."""
        self.version += 1
        write_manifest(self.tmp, specs(self.n, self.version), self.n)
        session = Session(
            self.clock,
            cwd=self.tmp,
            connect=self.connect,
            snapshots_dir=Path("snaps") if with_snapshots else None,
        )
        calls, lists = self.world.total_calls, self.world.calls[LIST]
        started = time.perf_counter()
        run = commands.apply(session, ENV, auto_approve=True, concurrency=self.args.concurrency)
        elapsed = time.perf_counter() - started
        (result,) = run.results
        assert len(result.created) == self.n and len(result.deleted) == self.n, result
        made = (self.world.total_calls - calls, self.world.calls[LIST] - lists)
        return elapsed, (result.gate_busiest_round, result.gate_rounds), made

    def connect(self, session: Session, endpoint: Endpoint, concurrency: int) -> ProviderHandle:
        """The bench's workspace, over a client limited like `kbctl apply --concurrency`."""
        client = ApiClient(
            "http://bench",
            "bench-key",
            self.clock,
            transport=httpx.WSGITransport(app=self.app),
            max_concurrency=concurrency,
        )
        return ProviderHandle(ElevenLabsProvider(client), client)

    def naive(self) -> float:
        """The sequential loop: one document at a time, all the way through."""
        self.version += 1
        desired = specs(self.n, self.version)
        started = time.perf_counter()
        live = self.provider.read_state(AGENT, PROJECT, ENV)
        by_key = {d.marker.key: d for d in live.documents if d.marker is not None}
        for spec in desired:
            old = by_key[spec.key]
            name = document_name(spec.key, PROJECT, ENV, spec.content_hash)
            new_id = self.provider.create_document(spec, name)
            state = self.provider.request_index(new_id, MODEL)
            while state.status is not IndexStatus.SUCCEEDED:
                assert state.status.in_flight, state
                self.clock.sleep(1.0)
                state = self.provider.index_state(new_id, MODEL)
            agent = self.provider.get_agent(AGENT)
            entries = [
                KbEntry(new_id, name, e.doc_type, e.usage_mode) if e.id == old.id else e
                for e in agent.knowledge_base
            ]
            self.provider.update_agent(AGENT, entries, None, f"naive: {spec.key}")
            self.provider.delete_document(old.id)
        return time.perf_counter() - started

    def close(self) -> None:
        self.client.close()


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def lower_bound(n: int, args: argparse.Namespace) -> float:
    """The critical-path bound of a change apply of N documents (see the module docstring)."""
    latency, conc = args.latency_ms / 1000, args.concurrency
    reads = (math.ceil(n / 100) + 1) * latency
    creates = max(3 * n * latency / conc, 2 * n * latency / conc + args.index_seconds)
    return reads + creates + 2 * latency + 2 * n * latency / conc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--index-seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--naive-max", type=int, default=50, help="run the naive loop up to N")
    parser.add_argument("--with-snapshots", action="store_true", help="time the snapshot hook too")
    args = parser.parse_args(argv)
    print(
        f"latency {args.latency_ms:.0f} ms per request, indexing {args.index_seconds:.1f} s, "
        f"concurrency {args.concurrency}" + (", with snapshots" if args.with_snapshots else "")
    )
    header = (
        f"{'docs':>5}  {'kbctl':>8}  {'bound':>8}  {'kbctl/bound':>11}  "
        f"{'naive':>10}  {'naive/kbctl':>11}  {'req/round':>9}  {'goal':>4}  {'rounds':>6}  "
        f"{'requests':>8}  {'lists':>5}  {'rss MB':>6}"
    )
    print(header)
    print("-" * len(header))
    naive_per_doc: float | None = None
    for n in args.sizes:
        bench = Bench(n, args)
        try:
            ours, (per_round, rounds), (requests, lists) = bench.kbctl(args.with_snapshots)
            if n <= args.naive_max:
                naive = bench.naive()
                naive_per_doc = naive / n
                naive_text = f"{naive:9.1f}s"
            elif naive_per_doc is not None:
                naive = naive_per_doc * n
                naive_text = f"{naive:6.0f}s est"
            else:
                naive, naive_text = float("nan"), "-"
        finally:
            bench.close()
        bound = lower_bound(n, args)
        speedup = f"{naive / ours:10.1f}x" if not math.isnan(naive) else f"{'-':>11}"
        print(
            f"{n:>5}  {ours:7.2f}s  {bound:7.2f}s  {ours / bound:10.2f}x  "
            f"{naive_text:>10}  {speedup}  {per_round:>9}  {math.ceil(n / 100):>4}  {rounds:>6}  "
            f"{requests:>8}  {lists:>5}  {peak_rss_mb():>6.0f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
