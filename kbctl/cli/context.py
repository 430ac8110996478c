"""Per-invocation settings shared by every command (the `click` context object)."""

from __future__ import annotations

from dataclasses import dataclass, field

import click


@dataclass
class AppContext:
    """Global flags and the secrets that must never be printed."""

    debug: bool = False
    secrets: set[str] = field(default_factory=set)
    json_events: bool = False  # --json: errors also go out as an `error` event on stdout

    def add_secret(self, value: str | None) -> None:
        """Remember a value that output must never show (an API key)."""
        if value and len(value) >= 4:
            self.secrets.add(value)

    def redact(self, text: str) -> str:
        """Replace every known secret in `text`."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def app_context() -> AppContext:
    """The AppContext of the running command (a fresh one outside click)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return AppContext()
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    return root.obj
