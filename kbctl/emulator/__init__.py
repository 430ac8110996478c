"""An emulator of the ElevenLabs knowledge-base and agent API, faithful enough for the official
`elevenlabs` SDK: in process (`emulator://PATH` through an httpx WSGI transport) or over a
socket (`kbctl emulator serve`).

Two rooms: `kbctl.emulator.workspace` is the emulated workspace (documents, indexes, agents,
persistence; `World`), `kbctl.emulator.http` is its HTTP face (WSGI app, routes, requests,
socket server). `config` is what both read; `embedded` opens a workspace folder in process.

Owns nothing itself: it re-exports the public surface. The emulator never imports
`kbctl.provider` (it must not share the code it checks) nor httpx.
"""

from __future__ import annotations

from kbctl.emulator.config import EmulatorConfig
from kbctl.emulator.embedded import open_emulator, parse_emulator_url
from kbctl.emulator.http.app import EmulatorApp
from kbctl.emulator.http.server import EmulatorServer, build_app, run_server
from kbctl.emulator.workspace.persistence import Store
from kbctl.emulator.workspace.records import AgentInfo, DocumentInfo, IndexInfo
from kbctl.emulator.workspace.world import World

__all__ = [
    "AgentInfo",
    "DocumentInfo",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorServer",
    "IndexInfo",
    "Store",
    "World",
    "build_app",
    "open_emulator",
    "parse_emulator_url",
    "run_server",
]
