"""Fixtures for the GitHub Actions tests: the repository's workflow files, and a throwaway copy of
the repository (manifests, action, scripts, workflows) pushed to a local bare origin."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
KBCTL_WORKFLOWS = ("kbctl-plan.yml", "kbctl-apply.yml", "kbctl-drift.yml", "kbctl-rollback.yml")
ACTION = ROOT / "action.yml"

# The parts of the repository a user's repository would have (plus kbctl's source, which the
# action installs from): copied into a temporary origin for every runner test.
REPO_PARTS = ("action.yml", "scripts", ".github", "manifests", "pyproject.toml")


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """A PATH folder whose `python` records `python -m pip …` instead of installing (kbctl is
    already installed in the test's environment) and runs everything else with this Python."""
    folder = tmp_path / "fakebin"
    folder.mkdir()
    log = tmp_path / "pip.log"
    script = folder / "python"
    script.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "${1:-}" = "-m" ] && [ "${2:-}" = "pip" ]; then\n'
        f'  echo "$*" >> "{log}"\n'
        "  exit 0\n"
        "fi\n"
        f'exec "{sys.executable}" "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return folder


@pytest.fixture
def kbctl_bin() -> Path:
    """The folder with the `kbctl` console script of the running environment."""
    folder = Path(sys.executable).parent
    assert (folder / "kbctl").exists(), "kbctl is not installed in the test environment"
    return folder


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the repository's user-facing parts, without local state."""
    dest = tmp_path / "repo"
    dest.mkdir()
    for part in REPO_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(
                src, dest / part, ignore=shutil.ignore_patterns("__pycache__", ".kbctl")
            )
        elif src.exists():
            shutil.copy2(src, dest / part)
    return dest
