"""`Redactor`: the API key taken out of every text, byte string and JSON value kbctl reads.

The HTTP door runs every answer through it before anything parses the answer, so a key someone
pasted into a document's name or content never reaches output, plan files or snapshots. It must
not log, and must not hold anything but the key it hides.
"""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "***"
_MIN_KEY: Final = 4  # shorter "keys" would redact ordinary words
#: A JSON escape that decodes to a printable ASCII character: the only way the (ASCII) key can
#: hide in an answer whose raw bytes no longer hold it.
_ASCII_ESCAPE: Final = re.compile(rb'\\(?:u00[2-7][0-9A-Fa-f]|["\\/])')


class Redactor:
    """Replaces the API key with `***`."""

    __slots__ = ("_key", "_key_bytes")

    def __init__(self, key: str) -> None:
        self._key = key if len(key) >= _MIN_KEY else ""
        self._key_bytes = self._key.encode("utf-8")

    def __repr__(self) -> str:
        return "Redactor(***)"

    def text(self, text: str) -> str:
        """`text` without the key."""
        return text.replace(self._key, REDACTED) if self._key else text

    def raw(self, data: bytes) -> bytes:
        """`data` without the key's UTF-8 bytes."""
        if not self._key_bytes or self._key_bytes not in data:
            return data
        return data.replace(self._key_bytes, REDACTED.encode())

    def parsed(self, content: bytes, value: object) -> object:
        """`value`, parsed from `content` (which `raw` already cleaned), without the key: the
        walk of `json` runs only when `content` has an escape the key could hide behind, so a
        10,000-document listing is not walked string by string."""
        if not self._key or not _ASCII_ESCAPE.search(content):
            return value
        return self.json(value)

    def json(self, value: object) -> object:
        """A parsed JSON value without the key in any string, object key included (catches the
        key written with JSON escapes, which `raw` cannot see)."""
        if not self._key:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        return value
