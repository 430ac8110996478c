"""Delta records (`format_version` 2), written by earlier kbctl versions, still read: `snapshots
show` and rollback rebuild the full state through the chain, and a damaged chain is refused
with a clear error naming both files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.snapshots.kit import Bench, snapshot_files, text_of
from tests.snapshots.old_formats import as_delta


def test_rollback_through_a_chain_of_delta_records(bench: Bench) -> None:
    states = []
    for n in range(4):
        docs = {f"d{i}": text_of(f"doc {i} v{n if i == n else 0}") for i in range(6)}
        bench.manifest(docs, url=None)
        bench.apply()
        states.append(bench.kb_state())
    files = snapshot_files(bench.store)
    for n in range(1, 4):  # run n's records stored against run n-1's "after"
        as_delta(files[2 * n], files[2 * n - 1])
        as_delta(files[2 * n + 1], files[2 * n - 1])
    depths = [
        json.loads(p.read_text()).get("knowledge_base_delta", {}).get("depth", 0) for p in files
    ]
    assert depths == [0, 0, 1, 1, 2, 2, 3, 3]
    first_after = json.loads(files[1].read_text())["id"]
    for path in files:
        out = bench.run("snapshots", "show", json.loads(path.read_text())["id"])
        assert out.exit_code == 0 and re.search(r"Restorable +yes", out.output), out.output

    out = bench.run("rollback", "-e", "staging", "--to", first_after, "--auto-approve")
    assert out.exit_code == 0, out.output
    assert bench.kb_state() == states[0]
    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert bench.kb_state() == states[3]


def _two_runs(bench: Bench) -> tuple[Path, Path]:
    """Two applies; the first run's full "after" record, the second's "after" as a delta."""
    bench.manifest({"a": text_of("alpha v1"), "b": text_of("bravo")}, url=None)
    bench.apply()
    bench.manifest({"a": text_of("alpha v2"), "b": text_of("bravo")}, url=None)
    bench.apply()
    files = snapshot_files(bench.store)
    base, top = files[1], files[3]
    as_delta(top, base)
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
