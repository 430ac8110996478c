"""The values kbctl must never print or write (API keys), known to the whole run.

Every output path (errors, plan files, progress) redacts through one `Secrets`; the HTTP door
also removes the key from answers before they are parsed. No I/O.
"""

from __future__ import annotations


class Secrets:
    """Values that must never be printed or written (API keys), known to the whole run."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str | None) -> None:
        """Remember a value that output must never show."""
        if value and len(value) >= 4:
            self._values.add(value)

    def redact(self, text: str) -> str:
        """Replace every known secret in `text`."""
        for secret in self._values:
            text = text.replace(secret, "***")
        return text

    def __contains__(self, value: object) -> bool:
        return value in self._values
