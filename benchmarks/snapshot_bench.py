"""What do snapshots cost as the history grows: bytes per record, `snapshots list`, apply's share.

Builds a history of N snapshots (N/2 applies) of an agent with M documents, each apply after the
first replacing `--churn` of them (1 % by default, spread over the knowledge base), through the
real snapshot code: the real planner plans each apply from the workspace's state (documents of
over 500 bytes, so it changes no usage mode), and the real `SnapshotHook` writes its
"before" record, its in-progress checkpoints (one per upload, agent update and deletion, as
apply's events drive them) and its "after" record into a real `SnapshotStore`, blobs included.
No API is involved: the workspace is a table of documents, so only snapshot work is measured.

Prints:
- bytes written per apply: its two records plus the chunk blobs they needed that were not
  there yet (median and max over the small-change applies), and the new document blobs
  separately (those hold the new contents, whatever the record format);
- bytes on disk per record (median "before" and "after", the largest, the mean);
- the hook's wall and CPU time per apply (apply-side snapshot overhead) for the first and the
  last applies, and the slowest: it should not grow with the history;
- `kbctl snapshots list` and `kbctl snapshots show` of the newest record at the end (a fresh
  process, as a user runs it): wall time, CPU and peak RSS, with the index current, and list
  again after deleting the index (a rebuild), next to `kbctl --version` (the interpreter and
  kbctl's imports alone);
- `rollback --to previous` before its plan (fresh stores): choosing from the index, choosing
  from every record (as kbctl did before), verifying the answer's blobs; then peak memory.

Usage (defaults are modest; the issue's size is --snapshots 100 --documents 10000):

    python benchmarks/snapshot_bench.py [--snapshots 20] [--documents 1000] [--churn 0.01]
        [--chunked-above 256] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from kbctl.apply import ApplyResult, DocOutcome, Outcome
from kbctl.apply.events import AgentUpdated, DocumentCreated, DocumentDeleted, ignore
from kbctl.clock import FakeClock
from kbctl.identity import canonical_text, content_hash, document_name, parse_marker
from kbctl.model import (
    DocType,
    DocumentSpec,
    KbEntry,
    LiveAgent,
    LiveDocument,
    LiveState,
    Policy,
    RagSettings,
    Target,
    UsageMode,
)
from kbctl.plan.planner import plan_target
from kbctl.provider.base import Provider
from kbctl.snapshots.catalog import CONTENTS_FILE, INDEX_FILE
from kbctl.snapshots.chunks import CHUNKED_ABOVE
from kbctl.snapshots.hook import SnapshotHook
from kbctl.snapshots.previous import Question, from_every_record
from kbctl.snapshots.store import SnapshotStore

PROJECT, ENV, AGENT = "bench", "local", "agent_bench"
RAG = RagSettings(enabled=True, embedding_model="e5_mistral_7b_instruct")


class _NoContent:
    """The provider the hook is given: every content comes from the manifest, none is read."""

    def document_content(self, doc_id: str) -> bytes:
        raise AssertionError(f"the benchmark's hook read document {doc_id} from the API")


class Workspace:
    """The agent's documents as a table: key -> (id, content); ids handed out in order."""

    def __init__(self, documents: int) -> None:
        self.versions = [0] * documents
        self.docs: dict[str, tuple[str, bytes]] = {}
        self.counter = 0
        self.version_id = 0
        for n in range(documents):
            self.docs[_key(n)] = (self._new_id(), _content(n, 0))

    def _new_id(self) -> str:
        self.counter += 1
        return f"doc{self.counter:019d}"

    def target(self) -> Target:
        specs = tuple(
            DocumentSpec(_key(n), DocType.TEXT, UsageMode.AUTO, c, content_hash(DocType.TEXT, c))
            for n, c in ((n, _content(n, v)) for n, v in enumerate(self.versions))
        )
        return Target(
            manifest="bench.yaml",
            project=PROJECT,
            environment=ENV,
            agent_id=AGENT,
            base_url="emulator://bench",
            api_key_env="ELEVENLABS_API_KEY",
            protect=False,
            rag=RAG,
            policy=Policy(max_deletes=1_000_000),
            documents=specs,
        )

    def live(self) -> LiveState:
        docs, entries = [], []
        for key, (doc_id, content) in self.docs.items():
            name = document_name(key, PROJECT, ENV, content_hash(DocType.TEXT, content))
            marker = parse_marker(name)
            docs.append(LiveDocument(doc_id, name, DocType.TEXT, len(content), marker))
            entries.append(KbEntry(doc_id, name, DocType.TEXT, UsageMode.AUTO))
        agent = LiveAgent(AGENT, "Bench", f"v{self.version_id}", None, tuple(entries), RAG)
        return LiveState(agent, tuple(sorted(docs, key=lambda d: d.id)))

    def apply(self, store: SnapshotStore, clock: FakeClock) -> tuple[float, float]:
        """Plan toward the manifest and apply it, the hook recording; the hook's wall and CPU
        seconds (CPU: every thread of the process, the background blob writers included)."""
        target, live = self.target(), self.live()
        plan = plan_target(target, live)
        specs = {s.key: s for s in target.documents}
        wall = cpu = 0.0

        def timed(step: Callable[[], None]) -> None:
            nonlocal wall, cpu
            started, started_cpu = time.perf_counter(), time.process_time()
            step()
            wall += time.perf_counter() - started
            cpu += time.process_time() - started_cpu

        hook = SnapshotHook(store, clock, cast(Provider, _NoContent()), git_commit="c0ffee" * 7)
        timed(lambda: hook.before(target, live, plan))
        sink = hook.watch(ignore)
        created, deleted = [], []
        for key, spec in specs.items():
            old = self.docs.get(key)
            if old is not None and old[1] == spec.content:
                continue
            new_id = self._new_id()
            created.append(DocOutcome(key, new_id))
            timed(lambda key=key, new_id=new_id: sink(DocumentCreated(key, new_id, reused=False)))
            if old is not None:
                deleted.append(DocOutcome(key, old[0]))
            self.docs[key] = (new_id, spec.content)
        self.version_id += 1
        timed(lambda: sink(AgentUpdated(AGENT, f"v{self.version_id}")))
        for gone in deleted:
            timed(lambda gone=gone: sink(DocumentDeleted(gone.key, gone.id)))
        result = ApplyResult(
            AGENT,
            Outcome.APPLIED,
            created=tuple(created),
            deleted=tuple(deleted),
            agent_updated=True,
            version_id=f"v{self.version_id}",
        )
        after = self.live()
        timed(lambda: hook.after(target, plan, result, after))
        clock.advance(60)
        return wall, cpu

    def churn(self, share: float, round_: int) -> None:
        """Change the content of `share` of the documents, spread evenly over the knowledge
        base (the worst case for chunked records: every change lands in its own chunk), a
        different set each round."""
        count = max(1, round(len(self.versions) * share))
        stride = len(self.versions) // count
        for k in range(count):
            self.versions[(k * stride + round_) % len(self.versions)] += 1


def _key(n: int) -> str:
    return f"docs/section-{n // 100:03d}/doc-{n:05d}.md"


def _content(n: int, version: int) -> bytes:
    body = f"Document {n}, version {version}: opening hours, prices and rules. " * 9
    return canonical_text(f"# Document {n}\n\n{body}\n")


def measure(args: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of `kbctl ARGS` in a fresh process."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "t = time.perf_counter() - t\n"
        "assert done.returncode == 0, done.returncode\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(t, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024)\n"
    )
    command = [sys.executable, "-c", probe, sys.executable, "-m", "kbctl", *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def _show(label: str, figures: tuple[float, float, float]) -> None:
    wall, cpu, rss = figures
    print(f"  {label:<42}{wall:>6.2f} s {cpu:>6.2f} s {rss:>7.1f} MB")


def _new_files(folder: Path, seen: set[str]) -> dict[str, int]:
    """Files of `folder` whose names are not in `seen` (dot-prefixed ones left out), by size."""
    if not folder.is_dir():
        return {}
    return {
        p.name: p.stat().st_size
        for p in folder.iterdir()
        if p.name not in seen and not p.name.startswith(".")
    }


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _chunks_named(record: Path) -> set[str]:
    field = json.loads(record.read_bytes()).get("knowledge_base_chunks")
    return {f"{c['blob']}.gz" for c in field["chunks"]} if field else set()


@dataclass(frozen=True)
class Written:
    """What one apply added to the snapshot folder, in bytes on disk."""

    before: int  # its "before" record
    after: int  # its "after" record
    chunks: int  # new chunk blobs
    documents: int  # new document blobs
    unnamed: int  # new chunk blobs its two records do not name (written by checkpoints)

    @property
    def records_and_chunks(self) -> int:
        """What the issue bounds: the records and the new files they need."""
        return self.before + self.after + self.chunks


def _apply_once(
    workspace: Workspace, store: SnapshotStore, clock: FakeClock
) -> tuple[tuple[float, float], Written]:
    records, blobs = store.root / ENV, store.root / "blobs"
    seen_records, seen_blobs = _names(records), _names(blobs)
    seconds = workspace.apply(store, clock)
    new = _new_files(records, seen_records)
    kinds = {json.loads((records / n).read_bytes())["kind"]: n for n in new}
    assert sorted(kinds) == ["after", "before"], new
    added = _new_files(blobs, seen_blobs)
    chunks = {n for n in added if gzip.decompress((blobs / n).read_bytes()).startswith(b"[")}
    named = _chunks_named(records / kinds["before"]) | _chunks_named(records / kinds["after"])
    written = Written(
        before=new[kinds["before"]],
        after=new[kinds["after"]],
        chunks=sum(added[n] for n in chunks),
        documents=sum(size for n, size in added.items() if n not in chunks),
        unnamed=len(chunks - named),
    )
    return seconds, written


def _line(label: str, value: float) -> None:
    print(f"  {label:<50}{value:>12,.0f}")


def _rollback_previous(folder: Path) -> None:
    print("\n`rollback --to previous` before its plan, in process: wall s, CPU s, peak MB")
    question = Question(ENV, folder / ENV, None, None, SnapshotStore(folder).load, None)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("choose, from the index", lambda: SnapshotStore(folder).resolve("previous", ENV)),
        ("choose, from every record (before)", lambda: from_every_record(
            SnapshotStore(folder).list(ENV), question)),
        ("choose from the index, verify its blobs", lambda: SnapshotStore(folder).verify(
            SnapshotStore(folder).resolve("previous", ENV))),
    ]  # fmt: skip
    for label, step in steps:
        started, started_cpu = time.perf_counter(), time.process_time()
        step()
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        tracemalloc.start()  # again, for the peak of Python allocations (slower: not timed)
        step()
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        print(f"  {label:<42}{wall:>6.2f} s {cpu:>6.2f} s {peak:>7.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=20, help="records to write (N)")
    parser.add_argument("--documents", type=int, default=1000, help="documents (M)")
    parser.add_argument("--churn", type=float, default=0.01, help="share replaced per apply")
    parser.add_argument(
        "--chunked-above", type=int, default=CHUNKED_ABOVE, help="chunk larger knowledge bases"
    )
    parser.add_argument("--keep", type=Path, help="write the history here and keep it")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="kbctl-snapshot-bench-"))
    folder = root / "state-snapshots"
    clock = FakeClock()
    workspace = Workspace(args.documents)
    applies = max(2, args.snapshots // 2)
    print(
        f"{applies} applies x 2 records, {args.documents:,} documents, "
        f"{args.churn:.1%} replaced per apply, chunked above {args.chunked_above:,} entries"
    )
    hook_seconds: list[tuple[float, float]] = []
    written: list[Written] = []
    for n in range(applies):
        if n:
            workspace.churn(args.churn, n)
        store = SnapshotStore(folder, chunked_above=args.chunked_above)  # a process per apply
        seconds, added = _apply_once(workspace, store, clock)
        hook_seconds.append(seconds)
        written.append(added)

    later = written[1:]  # the 1 %-change applies (the first writes every document)
    print("\nbytes written per apply (on disk)")
    _line("apply 1: records + chunks (every chunk new)", written[0].records_and_chunks)
    _line("apply 1: document blobs", written[0].documents)
    totals = [w.records_and_chunks for w in later]
    _line(f"applies 2-{applies}: records + new chunks, median", statistics.median(totals))
    _line(f"applies 2-{applies}: records + new chunks, max", max(totals))
    _line("  of which new chunk blobs, median", statistics.median(w.chunks for w in later))
    _line("  document blobs (new contents), median", statistics.median(w.documents for w in later))
    _line("  chunks written but not named (checkpoints), total", sum(w.unnamed for w in later))

    records = [p for p in (folder / ENV).iterdir() if not p.name.startswith(".")]
    all_sizes = [p.stat().st_size for p in records]
    print("\nbytes on disk per record")
    _line("a record, before / after (median): before", statistics.median(w.before for w in later))
    _line("a record, before / after (median): after", statistics.median(w.after for w in later))
    _line(f"largest of all {len(all_sizes)} records", max(all_sizes))
    _line(f"mean of all {len(all_sizes)} records", statistics.mean(all_sizes))
    _line("history on disk (records only)", sum(all_sizes))
    blob_sizes = _new_files(folder / "blobs", set())
    _line(f"blob folder ({len(blob_sizes):,} files)", sum(blob_sizes.values()))
    index = (folder / ENV / INDEX_FILE).stat().st_size
    _line(".index.json", index)
    contents = folder / ENV / CONTENTS_FILE
    started, started_cpu = time.perf_counter(), time.process_time()
    known = len(SnapshotStore(folder).content_index())
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    _line(".contents.jsonl", contents.stat().st_size)
    print(f"    ({known:,} contents; built or brought up to date in {wall:.2f} s, CPU {cpu:.2f} s)")

    print("\napply-side snapshot overhead (the hook's seconds per apply): wall s, CPU s")

    def show(label: str, runs: list[tuple[float, float]]) -> None:
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"  {label:<42}{wall:>6.2f} s {cpu:>6.2f} s")

    show("apply 1 (every blob new)", hook_seconds[:1])
    head, tail = hook_seconds[1:6], hook_seconds[-5:]
    show(f"applies 2-{1 + len(head)} (median)", head)
    if applies >= 2 * len(tail) + 1:
        show(f"applies {applies - len(tail) + 1}-{applies} (median)", tail)
    rest = hook_seconds[1:]
    slowest = max(rest, key=lambda run: run[1])
    label = f"slowest of applies 2-{applies} (by CPU)"
    print(f"  {label:<42}{slowest[0]:>6.2f} s {slowest[1]:>6.2f} s")

    print("\nkbctl in a fresh process: wall s, CPU s, peak RSS")
    empty = root / "empty"
    empty.mkdir()
    list_args = ["snapshots", "list", "-e", ENV, "--snapshots-dir", str(folder)]
    newest = max(records, key=lambda p: p.name)
    show_args = ["snapshots", "show", str(newest), "--snapshots-dir", str(folder)]
    runs = [
        ("kbctl --version", ["--version"]),
        ("list, empty folder (imports only)", [*list_args[:-1], str(empty)]),
        ("list, index current", list_args),
        ("show, newest record", show_args),
    ]
    for label, command in runs:
        _show(label, measure(command))
    (folder / ENV / INDEX_FILE).unlink()
    _show("list, index deleted (rebuilt)", measure(list_args))
    _show("list again", measure(list_args))
    as_json = [sys.executable, "-m", "kbctl", *list_args, "--format", "json"]
    rows = json.loads(subprocess.check_output(as_json, text=True))
    assert len(rows) == len(records), (len(rows), len(records))
    assert not [r for r in rows if str(r["outcome"]).startswith("unreadable")], rows
    _rollback_previous(folder)
    if args.keep is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
