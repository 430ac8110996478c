"""The in-process way in: `emulator://PATH[?setting=value&…]` URLs (and plain paths) opened as
an `EmulatorApp` whose state lives in PATH, so successive `kbctl` commands share a workspace.

Owns URL parsing and wiring World + Store + App for a folder (the only module that joins the
workspace, its persistence and the HTTP face). Must not import httpx: the caller
builds `httpx.WSGITransport(app=open_emulator(...))`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

from kbctl.clock import Clock
from kbctl.emulator.config import EmulatorConfig, config_with_overrides
from kbctl.emulator.http.app import EmulatorApp
from kbctl.emulator.openai import open_openai
from kbctl.emulator.workspace.persistence import Store
from kbctl.emulator.workspace.world import World
from kbctl.errors import UsageError

SCHEME = "emulator://"


def parse_emulator_url(url: str) -> tuple[Path, dict[str, str]]:
    """`emulator://PATH?k=v` (or a plain path) → (absolute folder, settings). A relative PATH
    (`emulator://.kbctl/emulator`) is resolved against the current working directory;
    `emulator:///abs/path` is absolute."""
    rest = url[len(SCHEME) :] if url.startswith(SCHEME) else url
    path_text, _, query = rest.partition("?")
    if not path_text:
        raise UsageError(
            f"No state folder in emulator URL {url!r}",
            hint="Use emulator://PATH, e.g. emulator://.kbctl/emulator",
        )
    settings: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        settings[key] = value
    return Path(path_text).expanduser().absolute(), settings


def open_emulator(
    url_or_path: str, clock: Clock, config: EmulatorConfig | None = None
) -> EmulatorApp:
    """An emulator whose workspace is stored in the folder of `url_or_path` (created if
    missing, loaded if present, saved after every request that changes something). URL
    settings override `config`."""
    path, settings = parse_emulator_url(url_or_path)
    effective = config_with_overrides(config or EmulatorConfig(), settings)
    if path.exists() and not path.is_dir():
        raise UsageError(f"Emulator state path {path} is not a folder")
    world = World(effective, clock)
    world.attach_store(Store(path))
    return EmulatorApp(world, open_openai(effective, clock, path))
