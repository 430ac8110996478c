"""Snapshots whose size grows with the change, not with the knowledge base: delta records.

A record of an apply that changed 1 % of its documents stores only those changes plus the name
of a base record; `snapshots show` and rollback rebuild the full state through the chain, a
chain is bounded, and a damaged chain is refused with a clear error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kbctl.snapshots.store import SnapshotStore
from tests.snapshots.kit import Bench, snapshot_files, text_of

DOCS = 200
#: The issue's bound, 1 MB for a 1 % change of 10,000 documents, scaled to DOCS documents.
BOUND = 1_000_000 * DOCS // 10_000


def _docs(version: dict[int, str] | None = None) -> dict[str, str]:
    changed = version or {}
    return {f"d{n:03}": text_of(f"doc {n} {changed.get(n, 'v1')}", 600) for n in range(DOCS)}


def _newest(bench: Bench, environment: str = "staging") -> tuple[Path, dict[str, object]]:
    path = snapshot_files(bench.store, environment)[-1]
    return path, json.loads(path.read_text())


def test_a_one_percent_change_writes_records_within_the_scaled_bound(bench: Bench) -> None:
    bench.manifest(_docs(), url=None)
    first, _ = bench.apply()
    assert len(first.created) == DOCS + 1
    full = snapshot_files(bench.store)[-1].stat().st_size
    assert full > 2 * BOUND  # a full record of DOCS documents is far over the bound

    bench.manifest(_docs({3: "v2", 150: "v2"}), url=None)  # 1 % of the documents
    second, hook = bench.apply()
    assert len(second.created) == 2 and len(second.deleted) == 2
    before, after = (bench.store.root / "staging" / s.file_name for s, _ in hook.written)
    assert before.stat().st_size <= BOUND and after.stat().st_size <= BOUND
    record = json.loads(after.read_text())
    assert record["format_version"] == 2 and "knowledge_base" not in record
    delta = record["knowledge_base_delta"]
    assert delta["documents"] == DOCS + 1 and delta["depth"] == 1
    assert len(delta["removed"]) == 2 and len(delta["inserted"]) == 2

    # `snapshots show` prints the whole state, rebuilt from the chain.
    out = bench.run("snapshots", "show", record["id"], "--format", "json")
    assert out.exit_code == 0, out.output
    shown = json.loads(out.stdout)
    assert shown["format_version"] == 1 and len(shown["knowledge_base"]) == DOCS + 1
    live = {e.id for e in bench.entries()}
    assert {e["id"] for e in shown["knowledge_base"]} == live
    text = bench.run("snapshots", "show", record["id"])
    assert f"Knowledge base ({DOCS + 1} documents)" in text.output
    assert re.search(r"Restorable +yes", text.output)


def test_rollback_through_a_chain_of_delta_records(bench: Bench) -> None:
    states = []
    for n in range(4):
        docs = {f"d{i}": text_of(f"doc {i} v{n if i == n else 0}") for i in range(6)}
        bench.manifest(docs, url=None)
        bench.apply()
        states.append(bench.kb_state())
    depths = [
        json.loads(p.read_text()).get("knowledge_base_delta", {}).get("depth", 0)
        for p in snapshot_files(bench.store)
    ]
    assert depths == [0, 0, 1, 1, 2, 2, 3, 3]  # run n's records are stored against run n-1's
    first_after = json.loads(snapshot_files(bench.store)[1].read_text())["id"]

    out = bench.run("rollback", "-e", "staging", "--to", first_after, "--auto-approve")
    assert out.exit_code == 0, out.output
    assert bench.kb_state() == states[0]
    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert bench.kb_state() == states[3]


def test_a_chain_is_bounded_by_a_full_record(bench: Bench) -> None:
    bench.store = SnapshotStore(bench.store.root, max_depth=2)
    for n in range(4):
        bench.manifest({"a": text_of(f"alpha {n}"), "b": text_of("bravo")}, url=None)
        bench.apply()
    records = [json.loads(p.read_text()) for p in snapshot_files(bench.store)]
    depths = [r.get("knowledge_base_delta", {}).get("depth", 0) for r in records]
    assert depths == [0, 0, 1, 1, 2, 2, 0, 1]  # run 4: full "before", "after" over it
    for record in records:
        out = bench.run("snapshots", "show", record["id"])
        assert out.exit_code == 0 and re.search(r"Restorable +yes", out.output), out.output


def _two_runs(bench: Bench) -> tuple[Path, Path]:
    """Two applies; the first run's full "after" record, the second's delta "after"."""
    bench.manifest({"a": text_of("alpha v1"), "b": text_of("bravo")}, url=None)
    bench.apply()
    bench.manifest({"a": text_of("alpha v2"), "b": text_of("bravo")}, url=None)
    bench.apply()
    files = snapshot_files(bench.store)
    base, top = files[1], files[3]
    assert json.loads(top.read_text())["knowledge_base_delta"]["base"] == base.name
    return base, top


def test_a_missing_base_record_is_a_clear_error(bench: Bench) -> None:
    base, top = _two_runs(bench)
    base.unlink()
    top_id = json.loads(top.read_text())["id"]

    out = bench.run("snapshots", "show", top_id)
    assert out.exit_code == 1
    assert out.output.startswith(
        f"Error: Snapshot {top.name} cannot be read: its base record {base.name} is missing\n"
    )
    assert f"stores only its changes from {base.name}" in out.output
    assert "Hint: Restore it from git: a delta record needs every record back" in out.output
    assert "Traceback" not in out.output
    out = bench.run("rollback", "-e", "staging", "--to", top_id, "--auto-approve")
    assert out.exit_code == 1 and "is missing" in out.output

    listed = json.loads(bench.run("snapshots", "list", "-e", "staging", "--format", "json").stdout)
    (row,) = [r for r in listed if r["id"] == top_id]
    assert row["outcome"] == f"unreadable: its base record {base.name} is missing"


def test_an_altered_base_record_is_refused(bench: Bench) -> None:
    base, top = _two_runs(bench)
    data = json.loads(base.read_text())
    entry = next(e for e in data["knowledge_base"] if e["key"] == "docs/b.md")
    entry["usage_mode"] = "prompt"  # still valid JSON of the right shape: only the hash tells
    base.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    top_id = json.loads(top.read_text())["id"]

    out = bench.run("snapshots", "show", top_id)
    assert out.exit_code == 1
    assert f"Error: Snapshot {top.name} cannot be rebuilt: its base records were changed" in (
        out.output
    )
    assert "Hint:" in out.output and "Traceback" not in out.output


def test_a_corrupt_base_record_names_both_files(bench: Bench) -> None:
    base, top = _two_runs(bench)
    base.write_text("{ not json")
    out = bench.run("snapshots", "show", json.loads(top.read_text())["id"])
    assert out.exit_code == 1
    assert f"its base record {base.name} is unreadable" in out.output
    assert "not valid JSON" in out.output
