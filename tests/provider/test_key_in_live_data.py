"""The key pasted into live data (a hand-made document's name and content) never comes out of
kbctl: the HTTP door redacts answers before parsing, so plan output, plan files, status, snapshots
and their blobs only ever see `***`. End to end over a socket, through the CLI."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli
from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, EmulatorServer, World

SECRET = "sk_live_9a8b7c6d5e4f3a2b1c0d"
FILLER = "Opening hours, parking and the school in the yard. " * 12
MANIFEST = """\
version: 1
project: leak-live
rag:
  enabled: true
documents:
  - glob: docs/*.md
environments:
  staging:
    agent_id: agent_live
"""


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    world = World(EmulatorConfig(api_key=SECRET, index_seconds=0), SystemClock())
    world.create_agent("agent_live")
    pasted = world.add_document(
        "text", f"notes with {SECRET} in the name", f"someone pasted {SECRET} here\n{FILLER}"
    )
    world.set_knowledge_base(
        "agent_live", [{"type": "text", "name": f"notes with {SECRET} in the name", "id": pasted}]
    )
    srv = EmulatorServer(EmulatorApp(world), "127.0.0.1", 0)
    srv.start()
    yield srv
    srv.stop()


def test_a_key_in_live_data_is_in_no_output_plan_file_or_snapshot(
    server: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifests" / "docs").mkdir(parents=True)
    (tmp_path / "manifests" / "kb.yaml").write_text(MANIFEST)
    (tmp_path / "manifests" / "docs" / "a.md").write_text("# A\n\n" + FILLER)
    runner = CliRunner(env={"ELEVENLABS_API_KEY": SECRET, "ELEVENLABS_BASE_URL": server.url})
    outputs = []
    for args in (
        ["plan", "-e", "staging", "--out", "plan.json"],
        ["plan", "-e", "staging", "--format", "json"],
        ["apply", "-e", "staging", "plan.json"],
        ["status", "-e", "staging", "--format", "json"],
        ["status", "-e", "staging"],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, (args, result.output)
        outputs.append(result.output)
    assert any("notes with *** in the name" in text for text in outputs)
    for text in outputs:
        assert SECRET not in text
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any("state-snapshots" in p.parts for p in written)
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        assert SECRET.encode() not in data, path
