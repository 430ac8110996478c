"""Composition root: turns flags and environment variables into manifests, clocks and providers.

The only module that reads `os.environ` (besides the CLI entry's --debug default). Everything it
builds is handed to core functions, which never look at the environment themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from kbctl.cli.context import app_context
from kbctl.clock import Clock, SystemClock
from kbctl.errors import ManifestError, UsageError
from kbctl.model import ProviderKind, Target
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient
from kbctl.provider.retry import RetryListener, ignore_retries

if TYPE_CHECKING:
    from kbctl.emulator import EmulatorApp

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
EMULATOR_SCHEME = "emulator://"
#: Where requests to the in-process emulator are addressed (the WSGI transport ignores the host).
EMULATOR_HTTP_URL = "http://emulator.invalid"


def environ() -> Mapping[str, str]:
    """The process environment (read here and nowhere else)."""
    return os.environ


def in_github_actions() -> bool:
    """True when running as a GitHub Actions step (annotations are then printed too)."""
    return environ().get("GITHUB_ACTIONS") == "true"


def system_clock() -> Clock:
    """The real clock."""
    return SystemClock()


def manifest_paths(files: Sequence[str]) -> list[Path]:
    """The manifests named with -f, or every manifests/*.yaml under the current directory."""
    from kbctl.manifest import default_manifest_paths

    if files:
        return [Path(f) for f in files]
    cwd = Path.cwd()
    paths = [
        p.relative_to(cwd) if p.is_relative_to(cwd) else p for p in default_manifest_paths(cwd)
    ]
    if not paths:
        raise ManifestError(
            "No manifests found",
            detail=f"Looked for manifests/*.yaml under {Path.cwd().name or '.'}.",
            hint="Pass one with -f FILE, or run kbctl from the repository root.",
        )
    return paths


def load_targets(files: Sequence[str], environment: str) -> tuple[Target, ...]:
    """Load, validate and resolve every manifest that declares `environment`.

    Manifests without it are skipped with a note on stderr (an error only when none has it).
    """
    import click

    from kbctl.manifest import load_manifests, select_targets

    env = environ()
    manifests = load_manifests(manifest_paths(files), env)
    selection = select_targets(manifests, environment, env)
    for note in selection.notes:
        click.echo(f"Note: {note}", err=True)
    return tuple(_base_url_override(t, env) for t in selection.targets)


#: The variable that overrides the manifest's base_url, per provider.
BASE_URL_VARIABLES = {
    ProviderKind.ELEVENLABS: "ELEVENLABS_BASE_URL",
    ProviderKind.OPENAI: "OPENAI_BASE_URL",
}


def _base_url_override(target: Target, env: Mapping[str, str]) -> Target:
    """The target with its provider's base-URL variable applied, when that is set."""
    from dataclasses import replace

    override = env.get(BASE_URL_VARIABLES[target.provider])
    return replace(target, base_url=override) if override else target


def open_provider(
    target: Target,
    clock: Clock,
    *,
    concurrency: int = 8,
    on_retry: RetryListener = ignore_retries,
) -> ProviderHandle:
    """An `ElevenLabsProvider` for the target's workspace (the embedded emulator for emulator://).

    `on_retry` hears about every retry the client makes (e.g. "503, retrying in 2 s, attempt 2/6").
    """
    if target.provider is not ProviderKind.ELEVENLABS:
        raise UsageError(
            f"{target.manifest}: environment '{target.environment}' uses provider "
            f"{target.provider}, which this kbctl can validate but not yet plan or apply",
            hint="kbctl validate checks the manifest; plan and apply work with elevenlabs",
        )
    env = environ()
    api_key: str | None
    if target.base_url.startswith(EMULATOR_SCHEME):
        app = _embedded_emulator(target.base_url, clock)
        # Like `kbctl emulator serve --agent ID`: the embedded workspace has the target's agent.
        app.world.ensure_agent(target.agent_id)
        api_key = env.get(target.api_key_env) or "emulator-local-key"
        client = ApiClient(
            EMULATOR_HTTP_URL,
            api_key,
            clock,
            api_key_env=target.api_key_env,
            max_concurrency=concurrency,
            transport=httpx.WSGITransport(app=app),
            on_retry=on_retry,
        )
    else:
        if not target.base_url.startswith(("https://", "http://")):
            raise UsageError(
                f"Unsupported base_url {target.base_url!r}",
                hint="Use https://…, http://… (an emulator served over a socket) or emulator://PATH.",
            )
        api_key = env.get(target.api_key_env)
        client = ApiClient(
            target.base_url,
            api_key,
            clock,
            api_key_env=target.api_key_env,
            max_concurrency=concurrency,
            on_retry=on_retry,
        )
    app_context().add_secret(api_key)
    return ProviderHandle(ElevenLabsProvider(client), client)


_EMULATORS: dict[str, EmulatorApp] = {}


def _embedded_emulator(url: str, clock: Clock) -> EmulatorApp:
    """One in-process emulator per state folder and process (two would overwrite each other)."""
    from kbctl.emulator import open_emulator, parse_emulator_url

    path, settings = parse_emulator_url(url)
    cache_key = f"{path}?{sorted(settings.items())}"
    if cache_key not in _EMULATORS:
        _EMULATORS[cache_key] = open_emulator(url, clock)
    return _EMULATORS[cache_key]


class ProviderHandle:
    """A provider plus the client behind it (for closing and call counts)."""

    def __init__(self, provider: ElevenLabsProvider, client: ApiClient) -> None:
        self.provider = provider
        self.client = client

    def close(self) -> None:
        """Release the HTTP connections."""
        self.client.close()

    def __enter__(self) -> ProviderHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
