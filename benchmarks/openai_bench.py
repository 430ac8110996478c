"""How fast `kbctl apply` fills an empty OpenAI vector store with N documents, next to the
critical-path bound and a naive one-at-a-time loop (the sibling of `apply_bench.py`).

Run: `.venv/bin/python benchmarks/openai_bench.py [--sizes 100] [--latency-ms 50]
[--index-seconds 2] [--concurrency 4] [--naive-max 10] [--naive-poll 1]`

Setup. `kbctl emulator serve` runs as its own process on 127.0.0.1 (any free port) with
`--latency-ms` added to every request and `--index-seconds` of processing after each attach.
For each size, a repository of N Markdown documents under `kb/<dept>/<topic>/` with metadata
(dept, source, title, version) is written, and three things are measured against that server:

- kbctl: `kbctl.commands.apply` of the manifest (`provider: openai`, the store created by name
  on this first apply) with `--concurrency C`: manifest read and hashed, the store read, the
  plan, the lease, upload + attach of every file, the processing gate, the swap and the final
  read-back. Process start-up and snapshot files are left out (as in `apply_bench.py`).
- lower bound: what a perfectly parallel client limited to the same C requests in flight, each
  taking L, needs to make N files searchable, with I the processing time:

      L  +  N·L/C  +  L  +  I  +  L

  one read of the (empty) store; N uploads (`POST /files`), at most C at a time (the last one
  answered N·L/C later); one file batch attaching the files (L: a batch takes up to 2,000
  files, so attaching costs one request, and batches of earlier files overlap the uploads);
  the last file completes I after its batch; one read of the batch sees every file
  `completed` (L). No agent PATCH: attaching is what makes a file searchable, and a first
  apply has nothing to detach or delete. (Attaching one file per request instead, the bound
  would be L + 2N·L/C + I + L.)
- naive: the loop people write (and most sync tools run): for each document in turn, upload
  the File → attach it → poll the attachment every `--naive-poll` seconds until `completed`.
  Above `--naive-max` documents it runs on the first `--naive-max` only and is extrapolated
  linearly (it is linear by construction), marked "est".

`requests` counts every request kbctl's client sent during the apply (retries included), split
into `up` (POST /files), `att` (attach requests: one per file, or one per file batch of up to
2,000), `reads` (one file's or one batch's status), `lists` (listing pages of files, Files or
stores) and `other` (the store, the lease, search). Tests never assert on these
times; this script only prints them.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from kbctl import commands
from kbctl.clock import SystemClock
from kbctl.commands import Endpoint, ProviderHandle, Session
from kbctl.commands.session import connect_provider
from kbctl.provider.http import ApiClient
from kbctl.provider.openai.api import OpenAIApi

KEY = "sk-bench-key"
PROJECT = "bench"
ENV = "bench"
TOPICS = (("hr", "leave"), ("sales", "pricing"), ("it", "security"), ("finance", "travel"))
BODY = (
    "Employees may book travel through the portal. Approvals go to the line manager first, "
    "then to finance above the limit. Receipts are kept for seven years. "
) * 8


def write_repository(root: Path, n: int, url: str, run: int) -> None:
    """N documents with metadata (a glob per department, a sidecar per file) and the manifest
    of a project of its own (Files are the organisation's, not the store's: a second run of
    the same project would see the first one's Files as its own, attached elsewhere)."""
    for i in range(n):
        dept, topic = TOPICS[i % len(TOPICS)]
        path = root / "manifests" / "kb" / dept / topic / f"doc{i:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {dept} {topic} {i}\n\nPage {i}. {BODY}\n")
        path.with_name(path.name + ".metadata.yaml").write_text(f"title: Page {i}\nversion: 1\n")
    globs = "".join(
        f"  - glob: kb/{dept}/**/*.md\n    metadata: {{dept: {dept}, source: handbook}}\n"
        for dept in sorted({TOPICS[i % len(TOPICS)][0] for i in range(n)})
    )
    (root / "manifests" / "bench.yaml").write_text(
        f"version: 1\nproject: {PROJECT}-{run}\nprovider: openai\nchunking: auto\n"
        f"policy:\n  index_timeout: 600\ndocuments:\n{globs}"
        f"environments:\n  {ENV}:\n    base_url: {url}\n"
        f"    vector_store: {{name: bench-kbctl-{run}-{n}}}\n"
    )


def kind_of(route: str) -> str:
    """The column a request counts in (routes as the client names them)."""
    method, _, path = route.partition(" ")
    if route == "POST /files":
        return "up"
    if method == "POST" and path in (
        "/vector_stores/{id}/files",
        "/vector_stores/{id}/file_batches",
    ):
        return "att"
    if method == "GET" and path in (
        "/vector_stores/{id}/files/{id}",
        "/vector_stores/{id}/file_batches/{id}",
    ):
        return "reads"
    if method == "GET" and path.rstrip("/").split("/")[-1] in ("files", "vector_stores"):
        return "lists"
    return "other"


class Server:
    """`kbctl emulator serve` as a child process."""

    def __init__(self, args: argparse.Namespace) -> None:
        command = [
            sys.executable,
            "-m",
            "kbctl",
            "emulator",
            "serve",
            "--port",
            "0",
            "--api-key",
            KEY,
            "--latency-ms",
            str(args.latency_ms),
            "--index-seconds",
            str(args.index_seconds),
        ]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip() + "/v1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_kbctl(root: Path, args: argparse.Namespace) -> tuple[float, Counter[str]]:
    """Time `kbctl.commands.apply`; the requests its clients sent, by kind."""
    handles: list[ProviderHandle] = []

    def connect(session: Session, endpoint: Endpoint, concurrency: int | None) -> ProviderHandle:
        handle = connect_provider(session, endpoint, concurrency)
        handles.append(handle)
        return handle

    session = Session(
        SystemClock(),
        environ={"OPENAI_API_KEY": KEY},
        cwd=root,
        connect=connect,
        snapshots_dir=None,
    )
    started = time.perf_counter()
    commands.apply(session, ENV, auto_approve=True, concurrency=args.concurrency)
    elapsed = time.perf_counter() - started
    made: Counter[str] = Counter()
    for handle in handles:
        for route, count in handle.client.route_calls.items():
            made[kind_of(route)] += count
        handle.close()
    return elapsed, made


def run_naive(url: str, root: Path, n: int, poll: float) -> float:
    """The one-at-a-time loop over the first `n` documents: upload, attach, poll; seconds."""
    clock = SystemClock()
    with ApiClient(url, KEY, clock, api_key_env="OPENAI_API_KEY", bearer=True) as client:
        api = OpenAIApi(client)
        store = api.create_store(f"bench-naive-{n}-{time.time_ns()}")
        paths = sorted((root / "manifests" / "kb").rglob("*.md"))[:n]
        started = time.perf_counter()
        for path in paths:
            file_id = api.upload(path.name, path.read_bytes())
            state = api.attach(store.id, file_id, {"title": path.stem}, None)
            while state.status != "completed":
                if state.status in ("failed", "cancelled"):
                    raise RuntimeError(f"{path}: {state.status}")
                clock.sleep(poll)
                state = api.store_file(store.id, file_id)
        return time.perf_counter() - started


def lower_bound(n: int, args: argparse.Namespace) -> float:
    """The critical-path bound of a first apply of N files (see the module docstring)."""
    latency, conc = args.latency_ms / 1000, args.concurrency
    return float(latency + n * latency / conc + latency + args.index_seconds + latency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--index-seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--naive-max", type=int, default=10, help="run the naive loop up to N")
    parser.add_argument("--naive-poll", type=float, default=1.0, help="the naive loop's poll (s)")
    args = parser.parse_args(argv)
    print(
        f"kbctl emulator serve: latency {args.latency_ms:.0f} ms per request, processing "
        f"{args.index_seconds:.1f} s; concurrency {args.concurrency}; first apply into an "
        "empty vector store"
    )
    header = (
        f"{'docs':>5}  {'kbctl':>8}  {'bound':>8}  {'kbctl/bound':>11}  {'naive':>10}  "
        f"{'naive/kbctl':>11}  {'requests':>8}  {'up':>4}  {'att':>4}  {'reads':>5}  "
        f"{'lists':>5}  {'other':>5}"
    )
    print(header)
    print("-" * len(header))
    server = Server(args)
    try:
        for run, n in enumerate(args.sizes):
            root = Path(tempfile.mkdtemp(prefix="kbctl-openai-bench-"))
            write_repository(root, n, server.url, run)
            ours, made = run_kbctl(root, args)
            ran = min(n, args.naive_max)
            naive = run_naive(server.url, root, ran, args.naive_poll) * n / ran if ran else math.nan
            naive_text = f"{naive:9.1f}s" if ran == n else f"{naive:6.0f}s est" if ran else "-"
            bound = lower_bound(n, args)
            ratio = f"{ours / bound:10.2f}x" if bound > 0 else f"{'-':>11}"
            speedup = f"{naive / ours:10.1f}x" if ran else f"{'-':>11}"
            print(
                f"{n:>5}  {ours:7.2f}s  {bound:7.2f}s  {ratio}  {naive_text:>10}  {speedup}  "
                f"{sum(made.values()):>8}  {made['up']:>4}  {made['att']:>4}  "
                f"{made['reads']:>5}  {made['lists']:>5}  {made['other']:>5}",
                flush=True,
            )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
