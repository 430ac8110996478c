"""The API key never shows up in anything kbctl prints or writes."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli
from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, EmulatorServer, World

SECRET = "sk_live_4f9c2b7e1d0a8c3f6e5b"
FILLER = "Two-room flats from 54 m², underground parking, a school in the yard. " * 10

MANIFEST = """\
version: 1
project: leak-test
rag:
  enabled: true
documents:
  - glob: docs/*.md
checks:
  - query: underground parking school
    expect: docs/a.md
environments:
  staging:
    agent_id: agent_leak
"""


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    world = World(EmulatorConfig(api_key=SECRET, index_seconds=0), SystemClock())
    world.create_agent("agent_leak")
    srv = EmulatorServer(EmulatorApp(world), "127.0.0.1", 0)
    srv.start()
    yield srv
    srv.stop()


def test_the_key_is_in_no_output_plan_file_or_snapshot(
    server: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests" / "docs").mkdir(parents=True)
    (tmp_path / "manifests" / "kb.yaml").write_text(MANIFEST)
    (tmp_path / "manifests" / "docs" / "a.md").write_text("# A\n\n" + FILLER)
    env = {"ELEVENLABS_API_KEY": SECRET, "ELEVENLABS_BASE_URL": server.url}
    runner = CliRunner(env=env)
    outputs = []
    for args in (
        ["plan", "-e", "staging", "--out", "plan.json"],
        ["plan", "-e", "staging", "--format", "markdown"],
        ["apply", "-e", "staging", "plan.json"],
        ["status", "-e", "staging", "--format", "json"],
        ["check", "-e", "staging"],
        ["snapshots", "list", "-e", "staging"],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, (args, result.output)
        outputs.append(result.output)
    # A rejected key, and an error with --debug, must not print it either.
    wrong = SECRET[::-1]
    rejected = CliRunner(env={**env, "ELEVENLABS_API_KEY": wrong}).invoke(
        cli, ["plan", "-e", "staging"]
    )
    assert rejected.exit_code == 1
    outputs.append(rejected.output)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "plan.json" for p in written)
    assert any("state-snapshots" in p.parts for p in written)
    for text in outputs:
        assert SECRET not in text and wrong not in text
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        assert SECRET.encode() not in data, path
