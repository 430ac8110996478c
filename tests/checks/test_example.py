"""The example manifest's checks pass offline: `kbctl apply -e local`, then `kbctl check -e local`,
on a copy of `manifests/`, against the emulator (BM25 over Russian and English text)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kbctl.cli.context import AppContext
from kbctl.cli.main import cli
from kbctl.clock import FakeClock
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


def test_the_example_falls_back_to_the_search_on_an_emulator_without_rag_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real wiring: the embedded emulator with its `no_rag_query` setting."""
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("ELEVENLABS_BASE_URL", f"emulator://{tmp_path}/emu?no_rag_query=true")
    context = AppContext(clock=FakeClock())

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=context, catch_exceptions=False)

    example = ("-e", "local", "-f", "manifests/example.yaml")
    assert run("apply", *example, "--auto-approve").exit_code == 0
    result = run("check", *example)
    assert result.exit_code == 0, result.output
    assert "(retriever: search)" in result.output
    assert "Note: rag-query is not available here (HTTP 404)" in result.output
    monkeypatch.setenv("ELEVENLABS_BASE_URL", f"emulator://{tmp_path}/emu")
    agent = json.loads(run("check", *example, "--format", "json").stdout)["agents"][0]
    assert (agent["retriever"], agent["passed"], agent["total"]) == ("rag-query", 6, 6)
