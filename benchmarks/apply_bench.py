"""How fast `kbctl apply` replaces N changed documents, next to a lower bound and a naive loop.

Run: `.venv/bin/python benchmarks/apply_bench.py [--sizes 50 500] [--latency-ms 50]
[--index-seconds 2] [--concurrency 4] [--naive-max 50] [--with-snapshots]`

Setup. An in-process emulator on the real clock answers every request after `latency-ms`
(slept outside its lock, so requests in flight overlap) and finishes each RAG index
`index-seconds` after it was requested. A baseline of N documents is applied first (untimed,
without latency); then every document's content changes and three things are timed:

- kbctl: read the live state, plan, and `apply_agent_plan` (upload, index gate, one PATCH,
  verify, delete) with `concurrency` requests in flight: what `kbctl apply` does, minus process
  start-up and (unless `--with-snapshots`) the snapshot files.
- lower bound: what a perfectly parallel client limited by the same concurrency needs:

      ceil(calls_per_doc * N / concurrency) * latency + index_seconds

  with calls_per_doc = 5 for a replace: upload, index request, at least one index read (the
  index cannot be done when the request answers), dependents check, delete. The calls are
  throughput-bound (at most `concurrency` in flight, each taking `latency`), and the agent
  cannot be switched before the last index finished, which takes `index_seconds` after its
  request, so at least one full index wait is on the critical path. The handful of fixed calls
  (agent reads, the PATCH, listing pages) are left out, so the bound is slightly optimistic.
- naive: the sequential loop teams ran by hand (user research): for each document upload →
  request index → poll every second until succeeded → read the agent, PATCH the array with
  the new id in place of the old → delete the old one. It runs against the same provider. Above
  `--naive-max` documents it is not run but extrapolated linearly from the largest size run
  (it is linear by construction), and marked "est.".

Goal (issue 5): kbctl within 1.5x of the lower bound, and at least 10x faster than the naive
loop at 50 documents. `req/round` is the most requests one index-gate poll round made (goal:
⌈N/100⌉, the batch read's 100 documents per request) and `rounds` how many rounds there were.
Tests never assert on these times; this script only prints them.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

from kbctl.apply import ApplyOptions, apply_agent_plan, ignore
from kbctl.clock import SystemClock
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
CALLS_PER_DOC = 5
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
        self.client = ApiClient(
            "http://bench",
            "bench-key",
            self.clock,
            transport=httpx.WSGITransport(app=EmulatorApp(self.world)),
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

    def kbctl(self, with_snapshots: bool) -> tuple[float, tuple[int, int]]:
        """Change every document, then plan + apply; returns the wall time and the requests
        per index-gate poll round."""
        self.version += 1
        desired = target(specs(self.n, self.version), self.n)
        started = time.perf_counter()
        live = self.provider.read_state(AGENT, PROJECT, ENV)
        plan = plan_target(desired, live)
        events = ignore
        hook = None
        if with_snapshots:
            from kbctl.snapshots.hook import SnapshotHook
            from kbctl.snapshots.store import SnapshotStore

            hook = SnapshotHook(SnapshotStore(self.tmp / "snaps"), self.clock, self.provider)
        result = apply_agent_plan(
            plan,
            desired,
            self.provider,
            self.clock,
            events=events,
            options=ApplyOptions(concurrency=self.args.concurrency),
            hook=hook,
        )
        elapsed = time.perf_counter() - started
        assert len(result.created) == self.n and len(result.deleted) == self.n, result
        return elapsed, (result.gate_busiest_round, result.gate_rounds)

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


def lower_bound(n: int, args: argparse.Namespace) -> float:
    calls = math.ceil(CALLS_PER_DOC * n / args.concurrency)
    return calls * args.latency_ms / 1000 + args.index_seconds


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
        f"{'naive':>10}  {'naive/kbctl':>11}  {'req/round':>9}  {'goal':>4}  {'rounds':>6}"
    )
    print(header)
    print("-" * len(header))
    naive_per_doc: float | None = None
    for n in args.sizes:
        bench = Bench(n, args)
        try:
            ours, (per_round, rounds) = bench.kbctl(args.with_snapshots)
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
            f"{naive_text:>10}  {speedup}  {per_round:>9}  {math.ceil(n / 100):>4}  {rounds:>6}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
