"""The action's helper scripts on their own: input checks, installation, snapshot commits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.workflows.conftest import ROOT
from tests.workflows.fake_runner import git

SCRIPTS = ROOT / "scripts" / "ci"


def run_script(
    name: str, env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        cwd=cwd,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("command", "environment", "message"),
    [
        ("deploy", "staging", "Unknown command 'deploy'"),
        ("plan", "", "kbctl plan needs the environment input"),
        ("apply", "stag ing; rm -rf /", "Invalid environment name"),
        ("apply", "x\n::warning::injected", "Invalid environment name 'x%0A::warning::injected'"),
    ],
)
def test_bad_inputs_fail_with_an_annotation(
    tmp_path: Path, command: str, environment: str, message: str
) -> None:
    result = run_script(
        "kbctl-run.sh",
        {"KBCTL_COMMAND": command, "KBCTL_ENVIRONMENT": environment, "RUNNER_TEMP": str(tmp_path)},
        tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("::error title=kbctl::")
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_an_api_key_input_is_masked_and_never_echoed(tmp_path: Path) -> None:
    result = run_script(
        "kbctl-run.sh",
        {"KBCTL_COMMAND": "nope", "KBCTL_API_KEY": "sk_input_secret_123"},
        tmp_path,
    )
    lines = (result.stdout + result.stderr).splitlines()
    assert "::add-mask::sk_input_secret_123" in lines
    assert not [line for line in lines if "sk_input_secret_123" in line and "add-mask" not in line]


@pytest.mark.parametrize(
    ("version", "requirement"),
    [("", "SOURCE"), ("0.1.0", "kbctl==0.1.0"), ("kbctl>=0.1,<1", "kbctl>=0.1,<1")],
)
def test_install_from_the_action_source_or_pypi_once_per_job(
    tmp_path: Path, fake_bin: Path, version: str, requirement: str
) -> None:
    source = tmp_path / "action"
    source.mkdir()
    (source / "pyproject.toml").write_text("[project]\nname = 'kbctl'\n")
    (fake_bin / "kbctl").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "kbctl").chmod(0o755)
    env = {
        "KBCTL_VERSION": version,
        "KBCTL_SOURCE": str(source),
        "RUNNER_TEMP": str(tmp_path / "temp"),
        "PATH": f"{fake_bin}:/usr/bin:/bin",
    }
    for _ in range(2):
        result = run_script("install.sh", env, tmp_path)
        assert result.returncode == 0, result.stderr
    log = (tmp_path / "pip.log").read_text().splitlines()
    expected = str(source) if requirement == "SOURCE" else requirement
    assert log == [f"-m pip install --quiet --disable-pip-version-check {expected}"]


def test_install_without_a_source_asks_for_a_version(tmp_path: Path) -> None:
    result = run_script("install.sh", {"KBCTL_SOURCE": str(tmp_path)}, tmp_path)
    assert result.returncode == 1
    assert "set the kbctl-version input" in result.stderr


def test_snapshot_commit_stays_local_without_a_remote_and_touches_only_snapshots(
    tmp_path: Path,
) -> None:
    git(["init", "--quiet", "-b", "main"], tmp_path)
    (tmp_path / "README.md").write_text("hello\n")
    git(["add", "README.md"], tmp_path)
    git(["commit", "--quiet", "-m", "init"], tmp_path)
    (tmp_path / "README.md").write_text("edited, not committed by kbctl\n")
    snapshots = tmp_path / "state-snapshots" / "staging"
    snapshots.mkdir(parents=True)
    (snapshots / "20260101T000000Z-abcd1234.json").write_text("{}\n")
    env = {"GITHUB_REF_NAME": "main", "GIT_CONFIG_NOSYSTEM": "1"}

    result = run_script("commit-snapshots.sh", env, tmp_path, "staging", "apply")
    assert result.returncode == 0, result.stderr
    assert "::warning title=kbctl snapshots::No 'origin' remote" in result.stdout
    assert git(["log", "-1", "--format=%s"], tmp_path).strip() == (
        "kbctl: snapshots for staging apply [skip ci]"
    )
    files = git(["show", "--name-only", "--format=", "HEAD"], tmp_path).split()
    assert files == ["state-snapshots/staging/20260101T000000Z-abcd1234.json"]
    assert "README.md" in git(["status", "--porcelain"], tmp_path)

    again = run_script("commit-snapshots.sh", env, tmp_path, "staging", "apply")
    assert again.returncode == 0
    assert "No new snapshots to commit." in again.stdout
