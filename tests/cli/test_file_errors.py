"""A file kbctl cannot write is the user's to fix, not a bug: summary, detail and hint, exit 1,
and with `--json` the stream still ends with an `error` event (DESIGN §8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl.cli.context import AppContext
from kbctl.cli.main import cli
from kbctl.commands import Endpoint, ProviderHandle, Session
from tests.cli.test_plan_cli import write_project
from tests.harness import kbctl, offline


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(tmp_path, monkeypatch)
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 3)
    return tmp_path


def test_plan_out_into_a_missing_folder_says_what_to_fix(repo: Path) -> None:
    result = kbctl("plan", "-e", "local", "--out", str(repo / "no-such-dir" / "plan.json"))
    assert result.exit_code == 1, result.output
    assert "Error: Cannot write the plan to " in result.output
    assert "FileNotFoundError" in result.output
    assert "Hint: Pass --out a path in an existing folder" in result.output
    assert "internal error" not in result.output


def test_an_unwritable_snapshots_folder_is_reported_before_anything_changes(repo: Path) -> None:
    blocker = repo / "not-a-folder"
    blocker.write_text("a file where the snapshots folder should be\n")
    result = kbctl(
        "apply", "-e", "local", "--auto-approve", "--json", "--snapshots-dir", str(blocker / "s")
    )
    assert result.exit_code == 1, result.output
    assert f"Error: Cannot use {blocker}" in result.stderr
    assert "Hint: Check the path" in result.stderr
    assert "internal error" not in result.output
    last = json.loads(result.stdout.splitlines()[-1])
    assert (last["event"], last["exit_code"]) == ("error", 1)
    assert last["summary"].startswith(f"Cannot use {blocker}")
    # The "before" snapshot comes first: the agent was not touched.
    after = kbctl("plan", "-e", "local", "--detailed-exitcode")
    assert after.exit_code == 2, after.output


def test_an_internal_error_ends_a_json_stream_with_an_error_event(repo: Path) -> None:
    def broken(session: Session, endpoint: Endpoint, concurrency: int | None) -> ProviderHandle:
        raise RuntimeError("unexpected state")

    result = CliRunner().invoke(
        cli,
        ["apply", "-e", "local", "--auto-approve", "--json"],
        obj=AppContext(connect=broken),
        prog_name="kbctl",
    )
    assert result.exit_code == 1
    assert "Error: internal error: RuntimeError: unexpected state" in result.stderr
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["event"] == "error"
    assert last["summary"] == "internal error: RuntimeError: unexpected state"
