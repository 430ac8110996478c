"""The plain values the HTTP client sends and receives: query parameters, file parts, answers.

No httpx here (only `kbctl.provider.http` talks HTTP); values only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: Query parameters: lists go out as repeated keys (`?types=text&types=url`).
Params = Mapping[str, str | int | float | bool | Sequence[str] | None]


@dataclass(frozen=True, slots=True)
class FilePart:
    """One file of a multipart upload."""

    filename: str
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP response, read completely, the key already taken out of its body."""

    status: int
    retry_after_ms: str | None
    retry_after: str | None
    content: bytes
    encoding: str

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")


def query_value(value: str | int | float | bool | Sequence[str]) -> str | list[str]:
    """A query value as httpx sends it (booleans as `true`/`false`, lists repeated)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return [str(v) for v in value]
