"""A manifest's relative `emulator://` folder starts at the repository root: every directory of
the repository reaches the same emulated workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli
from tests.cli.test_plan_cli import write_project


def test_the_same_workspace_from_any_directory_of_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELEVENLABS_BASE_URL", raising=False)
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    (tmp_path / ".git").mkdir()
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 2)
    monkeypatch.chdir(tmp_path)
    applied = CliRunner().invoke(cli, ["apply", "-e", "local", "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    assert (tmp_path / ".kbctl" / "emulator").is_dir()
    monkeypatch.chdir(tmp_path / "manifests" / "alpha")
    planned = CliRunner().invoke(
        cli, ["plan", "-e", "local", "-f", "../alpha.yaml", "--detailed-exitcode"]
    )
    assert planned.exit_code == 0, planned.output  # no changes: the same workspace
    assert not (tmp_path / "manifests" / "alpha" / ".kbctl").exists()
