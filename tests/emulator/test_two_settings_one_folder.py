"""One `emulator://` folder opened by two URLs with different settings in one process (an
ElevenLabs manifest and an OpenAI one pointed at the same folder, e.g. `ELEVENLABS_BASE_URL`
without and `OPENAI_BASE_URL` with `api_key=`): each app writes one side, and closing both, in
either order, keeps both sides' changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbctl.clock import FakeClock
from kbctl.emulator.embedded import open_emulator


@pytest.mark.parametrize("eleven_closes_last", [True, False])
def test_closing_two_apps_of_one_folder_keeps_what_each_wrote(
    tmp_path: Path, eleven_closes_last: bool
) -> None:
    url = f"emulator://{tmp_path / 'emulator'}?index_seconds=0"
    clock = FakeClock()
    eleven = open_emulator(url, clock)
    openai = open_emulator(f"{url}&api_key=sk-test-one", clock)
    eleven.world.create_agent("agent_one")
    openai.openai.world.ensure_store("vs_one")
    openai.openai.world.flush()
    eleven.world.flush()
    for app in (openai, eleven) if eleven_closes_last else (eleven, openai):
        app.close()

    again = open_emulator(url, clock)
    try:
        assert again.world.agent("agent_one") is not None
        assert again.openai.world.get_store("vs_one")["id"] == "vs_one"
    finally:
        again.close()
