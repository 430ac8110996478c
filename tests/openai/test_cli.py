"""`provider: openai` through the CLI and the default wiring (`emulator://`, the key from
`OPENAI_API_KEY` as a Bearer header): JSON plans, `--detailed-exitcode`, saved plans and
their staleness, status, check."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kbctl.cli.main import cli
from kbctl.clock import SystemClock
from kbctl.emulator import open_emulator
from kbctl.errors import ExitCode
from tests.jsonview import view
from tests.openai.conftest import REPO

KEY = "sk-cli-test-key-0123"
Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    shutil.copytree(REPO / "manifests" / "kb", tmp_path / "manifests" / "kb")
    shutil.copy(REPO / "manifests" / "handbook.yaml", tmp_path / "manifests" / "handbook.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_BASE_URL", f"emulator://{tmp_path}/emu?index_seconds=0")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert KEY not in result.output
        return result

    return invoke


def test_plan_json_saved_plans_status_and_check(run: Run, tmp_path: Path) -> None:
    changes = run("plan", "-e", "local", "--detailed-exitcode")
    assert changes.exit_code == ExitCode.CHANGES, changes.output
    shown = run("plan", "-e", "local", "--format", "json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    (agent,) = data["agents"]
    assert agent["agent_id"] == "company-handbook-local" and agent["summary"]["create"] == 5
    assert agent["embedding_model"] == "text-embedding-3-large"
    assert {c["action"] for c in data["changes"]} == {"create"}

    assert run("plan", "-e", "local", "--out", "plan.json").exit_code == 0
    applied = run("apply", "-e", "local", "plan.json")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete: 5 created" in applied.output
    again = run("apply", "-e", "local", "plan.json")
    assert again.exit_code == ExitCode.STALE, again.output

    assert run("plan", "-e", "local", "--detailed-exitcode").exit_code == 0
    status = run("status", "-e", "local")
    assert status.exit_code == 0, status.output
    assert "kb/hr/leave/annual-leave.md" in status.output and "succeeded" in status.output
    # A store is named as one, without an agent's RAG switch it does not have.
    assert "company-handbook/local  vector store company-handbook-local\n" in status.output
    assert "RAG off" not in status.output and "  agent " not in status.output
    check = run("check", "-e", "local")
    assert check.exit_code == 0, check.output
    assert "Coverage@1 5/5 (100%)" in check.output and "(retriever: search)" in check.output

    world = open_emulator(f"emulator://{tmp_path}/emu?index_seconds=0", SystemClock()).openai.world
    (store,) = [s for s in world.stores() if s["name"] == "company-handbook-local"]
    assert view(store).obj("file_counts").integer("completed") == 5


def test_a_wrong_key_is_an_auth_error_without_the_key(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "emulator://emu-auth?api_key=sk-the-right-one")
    result = run("plan", "-e", "local")
    assert result.exit_code == ExitCode.ERROR, result.output
    assert "API key rejected" in result.output and "OPENAI_API_KEY" in result.output


def test_the_quick_start_counts_one_agent_and_one_vector_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    (tmp_path / ".git").mkdir()  # the repository root, where `emulator://.kbctl/…` is anchored
    monkeypatch.chdir(tmp_path)
    for name in ("ELEVENLABS_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(
        cli, ["apply", "-e", "local", "--auto-approve"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "Apply complete: 14 created on 1 agent and 1 vector store" in result.output
