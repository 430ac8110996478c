"""The issue's acceptance flow, every step through the CLI: apply v1, apply v2, rollback."""

from __future__ import annotations

import json
from dataclasses import replace

from tests.rollback.test_rollback import v1, v2
from tests.snapshots.kit import Bench, snapshot_files


def _apply(bench: Bench, environment: str = "staging") -> None:
    out = bench.run("apply", "-e", environment, "--auto-approve")
    assert out.exit_code == 0, out.output
    assert "records the state after the apply" in out.output


def test_apply_v1_apply_v2_rollback_previous(bench: Bench) -> None:
    v1(bench)
    _apply(bench)
    v1_state, v1_rag = bench.kb_state(), bench.rag()
    v2(bench)
    _apply(bench)
    assert bench.kb_state() != v1_state
    assert len(snapshot_files(bench.store)) == 4
    listed = json.loads(bench.run("snapshots", "list", "-e", "staging", "--format", "json").stdout)
    assert [r["outcome"] for r in listed] == ["applied", "pending", "applied", "pending"]

    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")

    assert out.exit_code == 0, out.output
    assert bench.kb_state() == v1_state
    assert bench.rag() == v1_rag
    assert bench.run("plan", "-e", "staging", "--detailed-exitcode").exit_code == 2
    assert len(snapshot_files(bench.store)) == 6


def test_rollback_of_deleted_documents_stops_at_the_index_gate(bench: Bench) -> None:
    v1(bench)
    _apply(bench)
    v2(bench)
    _apply(bench)
    v2_state = bench.kb_state()
    bench.world.config = replace(bench.world.config, fail_index_containing=("alpha v1",))

    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve", "--json")

    assert out.exit_code == 3, out.output
    assert bench.kb_state() == v2_state
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "index_progress" for e in events)


def test_rollback_to_a_snapshot_of_another_environment_is_refused(bench: Bench) -> None:
    v1(bench)
    _apply(bench)
    _apply(bench, "production")
    production = bench.store.snapshots("production")[0]
    calls = bench.world.total_calls

    out = bench.run("rollback", "-e", "staging", "--to", production.id, "--auto-approve")

    assert out.exit_code == 1
    assert "belongs to environment 'production', not 'staging'" in out.output
    assert bench.world.total_calls == calls
