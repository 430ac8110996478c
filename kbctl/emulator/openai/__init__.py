"""An emulator of OpenAI's Files, Vector Stores, Vector Store Files, File Batches and Search API
under `/v1`, faithful enough for the official `openai` SDK. It is mounted into the emulator's
WSGI app (requests under `/v1/files` and `/v1/vector_stores` come here) and shares its settings,
clock and state folder.

Owns only the public surface and the factory. Self-contained: it never imports
`kbctl.provider` (it must not share the code it checks) nor httpx.
"""

from __future__ import annotations

from pathlib import Path

from kbctl.clock import Clock
from kbctl.emulator.config import EmulatorConfig
from kbctl.emulator.openai.app import OpenAIApp, is_openai_path
from kbctl.emulator.openai.persist import SUBFOLDER
from kbctl.emulator.openai.world import OpenAIWorld
from kbctl.emulator.workspace.persistence import Store


def open_openai(config: EmulatorConfig, clock: Clock, state: Path | None = None) -> OpenAIApp:
    """The OpenAI side of an emulator: persisted under `state/openai/` when `state` is given,
    with the stores of `config.vector_store` created if missing."""
    world = OpenAIWorld(config, clock)
    if state is not None:
        world.attach_store(Store(state / SUBFOLDER, locked=False))  # the parent folder's lock
    for store_id in config.vector_store:
        world.ensure_store(store_id)
    world.flush()
    return OpenAIApp(world)


__all__ = ["OpenAIApp", "OpenAIWorld", "is_openai_path", "open_openai"]
