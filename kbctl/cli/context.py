"""Per-invocation settings shared by every command (the `click` context object).

`AppContext` holds the global flags, the secrets output must never show, and the stop signal
the signal handlers set. Tests (and embedders) may hand click a ready `AppContext` as `obj`
with a `clock` and a `connect` factory: that is how a CLI run is pointed at an emulated
workspace on a fake clock, with no monkeypatching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from kbctl.secrets import Secrets
from kbctl.stop import StopSignal

if TYPE_CHECKING:
    from kbctl.clock import Clock
    from kbctl.commands.session import ProviderFactory


@dataclass
class AppContext:
    """Global flags, secrets, the stop signal, and optional injected clock and provider."""

    debug: bool = False
    secrets: Secrets = field(default_factory=Secrets)
    json_events: bool = False  # --json: errors also go out as an `error` event on stdout
    stop: StopSignal = field(default_factory=StopSignal)
    clock: Clock | None = None
    connect: ProviderFactory | None = None

    def add_secret(self, value: str | None) -> None:
        """Remember a value that output must never show (an API key)."""
        self.secrets.add(value)

    def redact(self, text: str) -> str:
        """Replace every known secret in `text`."""
        return self.secrets.redact(text)


def app_context() -> AppContext:
    """The AppContext of the running command (a fresh one outside click)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return AppContext()
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    return root.obj
