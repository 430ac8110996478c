"""The example manifest's checks pass offline: `kbctl apply -e local`, then `kbctl check -e local`,
on a copy of `manifests/`, against the emulator (BM25 over Russian and English text)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.checks.conftest import Bench

REPO = Path(__file__).resolve().parents[2]


def test_the_example_checks_pass_before_and_after_the_swap(bench: Bench) -> None:
    shutil.copytree(REPO / "manifests", bench.root / "manifests", dirs_exist_ok=True)
    bench.world.create_agent("agent_local")
    applied = bench.run("apply", "-e", "local", "--auto-approve", "-f", "manifests/example.yaml")
    assert applied.exit_code == 0, applied.output
    assert "retrieval checks before the swap: Coverage@1 6/6 (100%)" in applied.output
    assert "retrieval checks after the swap: Coverage@1 6/6 (100%)" in applied.output
    result = bench.run("check", "-e", "local", "-f", "manifests/example.yaml", "--format", "json")
    assert result.exit_code == 0, result.output
    (agent,) = json.loads(result.stdout)["agents"]
    assert (agent["total"], agent["passed"], agent["top1"]) == (6, 6, 6)
    queries = [c["query"] for c in agent["checks"]]
    assert sum(q.isascii() for q in queries) == 2  # English; the other four are Russian
