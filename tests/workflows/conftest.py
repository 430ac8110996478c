"""Fixtures for the GitHub Actions tests: the repository's workflow files, the adoption snippet of
docs/github-actions.md, and fake `python`/`python3` commands that stand in for pip and venv."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
KBCTL_WORKFLOWS = ("kbctl.yml",)
ALL_WORKFLOWS = tuple(sorted(p.name for p in WORKFLOWS.glob("*.yml")))
ACTION = ROOT / "action.yml"
DOCS = ROOT / "docs" / "github-actions.md"


def adoption_snippet(marker: str = "adoption-snippet") -> str:
    """The caller workflow docs/github-actions.md tells users to copy (the YAML block after the
    `<!-- adoption-snippet -->` marker; `rebuild-snippet`: the weekly full rebuild's caller)."""
    text = DOCS.read_text(encoding="utf-8")
    after = text.split(f"<!-- {marker} -->", 1)[1]
    block = after.split("```yaml\n", 1)[1].split("```", 1)[0]
    return block


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """A PATH folder whose `python` and `python3` record `-m pip …` instead of installing (kbctl
    is already installed in the test's environment), make `-m venv DIR` a folder with the same
    fake python and a `kbctl` that runs this checkout's kbctl (not whichever one the test's
    environment has installed), and run everything else with this Python."""
    folder = tmp_path / "fakebin"
    folder.mkdir()
    log = tmp_path / "pip.log"
    kbctl = folder / "kbctl"
    kbctl.write_text(
        "#!/usr/bin/env bash\n"
        f'PYTHONPATH="{ROOT}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{sys.executable}" -m kbctl "$@"\n',
        encoding="utf-8",
    )
    kbctl.chmod(0o755)
    script = folder / "python"
    script.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "${1:-}" = "-m" ] && [ "${2:-}" = "pip" ]; then\n'
        f'  echo "$*" >> "{log}"\n'
        "  exit 0\n"
        "fi\n"
        'if [ "${1:-}" = "-m" ] && [ "${2:-}" = "venv" ]; then\n'
        f'  echo "venv $3" >> "{log}"\n'
        '  mkdir -p "$3/bin"\n'
        f'  cp "{script}" "$3/bin/python"\n'
        f'  ln -sf "{kbctl}" "$3/bin/kbctl"\n'
        "  exit 0\n"
        "fi\n"
        f'exec "{sys.executable}" "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    (folder / "python3").symlink_to(script)
    return folder


@pytest.fixture
def kbctl_bin() -> Path:
    """The folder with the `kbctl` console script of the running environment."""
    folder = Path(sys.executable).parent
    assert (folder / "kbctl").exists(), "kbctl is not installed in the test environment"
    return folder
