"""How fast is `kbctl plan`, and does it make no more API calls than it must?

For 100 / 1,000 / 5,000 managed documents already attached to the agent (a no-change plan) and a
given emulated latency per request, prints the plan's wall time and its number of API calls next
to the minimum possible: 1 agent read + the list pages (100 documents per page) + 1 quota read,
and the process's peak resident memory so far (MB).

Runs the real client code (httpx over a WSGI transport) against the in-process emulator on the
system clock, so the latency is really waited. Usage:

    python benchmarks/plan_bench.py [--latency-ms 20] [--sizes 100,1000,5000]
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time

import httpx

from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.identity import canonical_text, content_hash, document_name
from kbctl.model import DocType, DocumentSpec, Policy, RagSettings, Target, UsageMode
from kbctl.plan.planner import plan_target
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient

PROJECT, ENV, AGENT = "bench", "local", "agent_bench"


def build(n: int, latency_ms: float) -> tuple[World, Target]:
    """A workspace whose agent already has the n documents the target declares."""
    clock = SystemClock()
    world = World(EmulatorConfig(latency_ms=0.0), clock)
    world.create_agent(AGENT, rag={"enabled": True, "embedding_model": "e5_mistral_7b_instruct"})
    specs: list[DocumentSpec] = []
    entries: list[dict[str, object]] = []
    for i in range(n):
        key = f"docs/doc-{i:05d}.md"
        content = canonical_text(f"# Document {i}\n\n" + "Some facts. " * 60)
        digest = content_hash(DocType.TEXT, content)
        name = document_name(key, PROJECT, ENV, digest)
        doc_id = world.add_document("text", name, content)
        entries.append({"type": "text", "name": name, "id": doc_id, "usage_mode": "auto"})
        specs.append(DocumentSpec(key, DocType.TEXT, UsageMode.AUTO, content, digest))
    world.set_knowledge_base(AGENT, entries)
    world.config = EmulatorConfig(latency_ms=latency_ms)  # latency only for the measured reads
    target = Target(
        manifest="bench.yaml",
        project=PROJECT,
        environment=ENV,
        agent_id=AGENT,
        base_url="emulator://bench",
        api_key_env="ELEVENLABS_API_KEY",
        protect=False,
        rag=RagSettings(enabled=True),
        policy=Policy(),
        documents=tuple(specs),
    )
    return world, target


def run(n: int, latency_ms: float) -> tuple[float, int, int, bool]:
    """(seconds, calls, minimum calls, plan has changes)."""
    world, target = build(n, latency_ms)
    client = ApiClient(
        "http://emulator",
        "bench-key",
        SystemClock(),
        transport=httpx.WSGITransport(app=EmulatorApp(world)),
    )
    provider = ElevenLabsProvider(client)
    before = world.total_calls
    start = time.perf_counter()
    live = provider.read_state(AGENT, PROJECT, ENV)
    plan = plan_target(target, live)
    seconds = time.perf_counter() - start
    calls = world.total_calls - before
    minimum = 1 + max(1, math.ceil(n / 100)) + 1
    client.close()
    return seconds, calls, minimum, plan.has_changes


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def main() -> None:
    """Print one line per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--sizes", default="100,1000,5000")
    args = parser.parse_args()
    print(f"kbctl plan, no-change plan, emulated latency {args.latency_ms:g} ms per request")
    print(
        f"{'documents':>10} {'wall s':>8} {'calls':>6} {'minimum':>8} {'changes':>8} {'rss MB':>7}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        seconds, calls, minimum, changes = run(n, args.latency_ms)
        print(
            f"{n:>10} {seconds:>8.2f} {calls:>6} {minimum:>8} {changes!s:>8} {peak_rss_mb():>7.0f}"
        )


if __name__ == "__main__":
    main()
