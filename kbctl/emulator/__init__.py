"""An emulator of the ElevenLabs knowledge-base and agent API, faithful enough for the official
`elevenlabs` SDK: in process (`emulator://PATH` through an httpx WSGI transport) or over a
socket (`kbctl emulator serve`).

Owns nothing itself: it re-exports the public surface. The emulator never imports
`kbctl.provider` (it must not share the code it checks) nor httpx.
"""

from __future__ import annotations

from kbctl.emulator.app import EmulatorApp
from kbctl.emulator.config import EmulatorConfig
from kbctl.emulator.embedded import open_emulator, parse_emulator_url
from kbctl.emulator.records import AgentInfo, DocumentInfo, IndexInfo
from kbctl.emulator.world import World

__all__ = [
    "AgentInfo",
    "DocumentInfo",
    "EmulatorApp",
    "EmulatorConfig",
    "IndexInfo",
    "World",
    "open_emulator",
    "parse_emulator_url",
]
