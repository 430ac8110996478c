"""An ElevenLabs base URL written with the version path (`…/v1`, as OpenAI's are) reaches the
same API as the bare one, over a real socket, instead of 404s on `/v1/v1/…`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli
from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.emulator.http.server import EmulatorServer
from tests.cli.test_plan_cli import write_project


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    world = World(EmulatorConfig(index_seconds=0), SystemClock())
    world.create_agent("agent_alpha")
    srv = EmulatorServer(EmulatorApp(world), "127.0.0.1", 0)
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_an_elevenlabs_base_url_may_end_in_the_version_path(
    server: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 2)
    env = {"ELEVENLABS_API_KEY": "sk_base_url_test", "ELEVENLABS_BASE_URL": server.url + suffix}
    result = CliRunner(env=env).invoke(cli, ["plan", "-e", "local", "--detailed-exitcode"])
    assert result.exit_code == 2, result.output
    assert "Plan: 2 to create" in result.output
