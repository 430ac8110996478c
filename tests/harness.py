"""The one test harness: an emulated workspace on a fake clock, and kbctl's real client on it.

`emulate()` builds the `World` (the emulator's workspace), its WSGI app and a `FakeClock` they
share with kbctl, so indexing that takes minutes passes in microseconds exactly as far as kbctl
waits. From it tests get everything by injection, never by patching module attributes:

- `new_client()` / `provider()`: the production `ApiClient` and `ElevenLabsProvider` over an
  in-process transport;
- `connect`: a provider factory for a `kbctl.commands.Session`;
- `session(cwd)`: a session for calling `kbctl.commands` directly;
- `app_context()` / `cli(*args)`: the CLI pointed at this workspace through click's `obj`.

The folder harnesses (apply's `Workspace`, the checks' and snapshots' `Bench`) build on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from kbctl.cli.context import AppContext
from kbctl.cli.main import cli
from kbctl.clock import FakeClock
from kbctl.commands import Endpoint, ProviderHandle, Session
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient

API_KEY = "sk_test_harness_0123456789"


@dataclass
class Emulated:
    """An emulated ElevenLabs workspace and how to reach it with kbctl's own code."""

    clock: FakeClock
    world: World
    app: EmulatorApp
    api_key: str = API_KEY
    clients: list[ApiClient] = field(default_factory=list)

    def new_client(
        self, *, max_concurrency: int | None = 4, max_retries: int = 5, seed: int | None = 1
    ) -> ApiClient:
        """kbctl's HTTP client over the in-process emulator (closed by `close`)."""
        client = ApiClient(
            "https://emulator.kbctl.test",
            self.api_key,
            self.clock,
            transport=httpx.WSGITransport(app=self.app),
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            seed=seed,
        )
        self.clients.append(client)
        return client

    def provider(self, **client: int) -> ElevenLabsProvider:
        """The production provider over a new client."""
        return ElevenLabsProvider(self.new_client(**client))

    def connect(
        self, session: Session, endpoint: Endpoint, concurrency: int | None
    ) -> ProviderHandle:
        """A provider factory for sessions: every command reaches this workspace."""
        client = self.new_client(max_concurrency=concurrency)
        session.secrets.add(self.api_key)
        return ProviderHandle(ElevenLabsProvider(client), client)

    def session(self, cwd: Path, environ: Mapping[str, str] | None = None) -> Session:
        """A session for calling `kbctl.commands` against this workspace."""
        return Session(self.clock, environ=dict(environ or {}), cwd=cwd, connect=self.connect)

    def app_context(self) -> AppContext:
        """The CLI's context pointed at this workspace and the fake clock."""
        return AppContext(clock=self.clock, connect=self.connect)

    def cli(self, *args: str) -> Result:
        """`kbctl ARGS` in the current directory, against this workspace."""
        return CliRunner().invoke(
            cli, list(args), catch_exceptions=False, obj=self.app_context(), prog_name="kbctl"
        )

    def close(self) -> None:
        """Close every client made; the emulator must not have failed internally."""
        for client in self.clients:
            client.close()
        assert self.app.internal_errors == [], self.app.internal_errors


def emulate(
    config: EmulatorConfig | None = None,
    *,
    agents: Mapping[str, str] | None = None,
    clock: FakeClock | None = None,
) -> Emulated:
    """A new emulated workspace with `agents` (id → name) on a fake clock."""
    clock = clock or FakeClock()
    world = World(config or EmulatorConfig(index_seconds=3.0), clock)
    for agent_id, name in (agents or {}).items():
        world.create_agent(agent_id, name=name)
    return Emulated(clock, world, EmulatorApp(world))


def offline(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work from `root` against the embedded emulator kept in `root/emu` (indexing at once),
    with no API key and outside GitHub Actions: the set-up of every offline CLI test."""
    monkeypatch.chdir(root)
    monkeypatch.setenv("ELEVENLABS_BASE_URL", f"emulator://{root}/emu?index_seconds=0")
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return root


def kbctl(*args: str) -> Result:
    """`kbctl ARGS` through click in the current directory, with the real wiring."""
    return CliRunner().invoke(cli, list(args), prog_name="kbctl")
