"""Honest exit codes (DESIGN §8, §10): usage errors exit 1 (never 2), plan exits 1 when apply
is certain to fail and 5 when policy would refuse, `--debug` works after the command name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl.cli.context import AppContext
from kbctl.cli.main import cli
from kbctl.commands import Endpoint, ProviderHandle, Session
from tests.cli.test_plan_cli import write_project
from tests.harness import kbctl, offline

run = kbctl


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(tmp_path, monkeypatch)
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 3)
    return tmp_path


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["plan", "-e", "local", "--bogus"], "No such option"),
        (["plan"], "Missing option"),
        (["plan", "-e", "local", "--format", "yaml"], "Invalid value for '--format'"),
        (["apply", "-e", "local", "missing-plan.json"], "does not exist"),
        (["no-such-command"], "No such command"),
        ([], "Error: Missing command\n  Usage: kbctl [OPTIONS] COMMAND"),
        (["snapshots"], "Error: Missing command\n  Usage: kbctl snapshots [OPTIONS] COMMAND"),
        (["status", "-e", "local", "--concurrency", "0"], "--concurrency"),
    ],
)
def test_usage_errors_exit_1_with_summary_detail_and_hint(
    repo: Path, args: list[str], words: str
) -> None:
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ")
    assert words in result.output
    assert "Usage: kbctl" in result.output  # the detail
    assert "Hint: Run `kbctl" in result.output and "--help`" in result.output
    assert "Traceback" not in result.output


def test_an_option_missing_its_value_names_the_command(repo: Path) -> None:
    result = run("plan", "-e")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "Error: Option '-e' requires an argument.",
        "  Usage: kbctl plan [OPTIONS]",
        "Hint: Run `kbctl plan --help` for the options.",
    ]


def test_usage_error_exit_code_of_the_real_process(repo: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kbctl", "plan", "-e", "local", "--allow-destroy", "--nope"],
        capture_output=True,
        text=True,
        cwd=repo,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "No such option" in done.stderr


def test_debug_is_accepted_after_the_command_name(repo: Path) -> None:
    before = run("--debug", "validate")
    after = run("validate", "--debug")
    assert before.exit_code == after.exit_code == 0, after.output
    assert before.output == after.output


def test_help_and_version_exit_0() -> None:
    assert run("--version").exit_code == 0
    assert run("plan", "--help").exit_code == 0


def _policy(repo: Path, text: str) -> None:
    path = repo / "manifests/alpha.yaml"
    path.write_text(path.read_text().replace("documents:\n", text + "documents:\n", 1))


def test_plan_exits_5_when_policy_would_refuse_and_0_with_allow_destroy(repo: Path) -> None:
    _policy(repo, "policy:\n  max_deletes: 1\n")
    assert run("apply", "-e", "local", "--auto-approve").exit_code == 0
    for name in ("d00.md", "d01.md"):
        (repo / "manifests/alpha" / name).unlink()
    refused = run("plan", "-e", "local", "--format", "json")
    assert refused.exit_code == 5, refused.output
    plan = json.loads(refused.stdout)  # the plan is still printed, whole
    assert plan["summary"]["delete"] == 2
    assert [f["code"] for f in plan["agents"][0]["findings"] if f["severity"] == "error"] == [
        "max_deletes"
    ]
    assert "Error: The plan for local removes documents a policy protects" in refused.stderr
    allowed = run("plan", "-e", "local", "--allow-destroy", "--detailed-exitcode")
    assert allowed.exit_code == 2, allowed.output
    assert run("apply", "-e", "local", "--auto-approve").exit_code == 5


def test_plan_exits_1_when_apply_is_certain_to_fail(repo: Path) -> None:
    _policy(repo, "policy:\n  small_documents: fail\n")
    (repo / "manifests/alpha/tiny.md").write_text("# Too small to index\n")
    result = run("plan", "-e", "local")
    assert result.exit_code == 1, result.output
    assert "predicts that apply would fail" in result.output
    assert "small_document" in result.output
    # --allow-destroy does not lift a certain failure.
    assert run("plan", "-e", "local", "--allow-destroy").exit_code == 1


def test_plan_without_findings_keeps_exit_0_and_2(repo: Path) -> None:
    assert run("plan", "-e", "local").exit_code == 0
    assert run("plan", "-e", "local", "--detailed-exitcode").exit_code == 2


def test_an_internal_error_is_one_line_with_the_key_redacted(repo: Path) -> None:
    key = "sk_internal_error_key_0123456789"

    def broken(session: Session, endpoint: Endpoint, concurrency: int | None) -> ProviderHandle:
        session.secrets.add(key)
        raise RuntimeError(f"unexpected state while using {key}")

    result = CliRunner().invoke(
        cli, ["plan", "-e", "local"], obj=AppContext(connect=broken), prog_name="kbctl"
    )
    assert result.exit_code == 1
    assert "Error: internal error: RuntimeError: unexpected state while using ***" in result.output
    assert "Hint: re-run with --debug" in result.output
    assert key not in result.output and "Traceback" not in result.output
    debug = CliRunner().invoke(
        cli, ["plan", "-e", "local", "--debug"], obj=AppContext(connect=broken)
    )
    assert isinstance(debug.exception, RuntimeError)  # --debug lets the traceback through


def test_rollback_without_to_asks_for_it_when_no_canary_is_live_on_any_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repository's examples: an ElevenLabs agent and an OpenAI store (which has no
    branches, so it is never asked for a canary)."""
    shutil.copytree(Path(__file__).resolve().parents[2] / "manifests", tmp_path / "manifests")
    (tmp_path / ".git").mkdir()
    offline(tmp_path, monkeypatch)
    monkeypatch.delenv("ELEVENLABS_BASE_URL")
    assert run("apply", "-e", "local", "--auto-approve").exit_code == 0
    result = run("rollback", "-e", "local", "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "Missing option '--to'" in result.output and "No canary rollout is live" in result.output
