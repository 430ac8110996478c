"""Fixtures for manifest tests: a throw-away project folder and `kbctl validate` through click."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kbctl.cli.main import cli

#: A valid manifest, to which tests add the one thing they are about.
MINIMAL = """\
version: 1
project: demo
environments:
  local:
    agent_id: agent_local
"""


class Project:
    """A folder holding manifests and documents; the current directory during the test."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, content: str | bytes) -> Path:
        """Create `rel` (text is written as UTF-8 without newline translation)."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    def manifest(self, text: str, name: str = "m.yaml") -> str:
        """Write a manifest (dedented) and return its name, relative to the project."""
        self.write(name, textwrap.dedent(text))
        return name

    def doc(self, rel: str, size: int = 600, char: str = "x") -> Path:
        """A UTF-8 Markdown document of about `size` bytes."""
        return self.write(rel, f"# {rel}\n\n" + char * size + "\n")

    def validate(self, *args: str, env: Mapping[str, str | None] | None = None) -> Result:
        """Run `kbctl validate ARGS` in the project folder."""
        return CliRunner().invoke(cli, ["validate", *args], env=dict(env or {}))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """An empty project folder, made the current directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return Project(tmp_path)
