"""Typed reading of untrusted JSON: one reader for plan files, snapshots, check reports and wire.

`JsonReader(fail)` checks each field's type as it is read and raises the error its caller makes
from a message naming the field (`agents[0].changes[2].key: expected a string`), so every
reader of kbctl's files reports a bad file the same way, with that file's own error class and
hint. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypeVar

from kbctl.errors import KbctlError

_E = TypeVar("_E", bound=Enum)
JsonObject = dict[str, object]


class JsonReader:
    """Typed access to untrusted JSON; `fail(problem)` makes the error to raise."""

    def __init__(self, fail: Callable[[str], KbctlError]) -> None:
        self.fail = fail

    def obj(self, value: object, where: str) -> JsonObject:
        """`value` as an object."""
        if not isinstance(value, dict):
            raise self.fail(f"{where}: expected an object")
        return value

    def items(self, value: object, where: str) -> list[object]:
        """`value` as a list."""
        if not isinstance(value, list):
            raise self.fail(f"{where}: expected a list")
        return value

    def str_(self, data: JsonObject, key: str, where: str) -> str:
        """A required string field."""
        value = data.get(key)
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}: expected a string")
        return value

    def opt_str(self, data: JsonObject, key: str, where: str) -> str | None:
        """A string field that may be null or absent."""
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{where}.{key}: expected a string or null")
        return value

    def int_(self, data: JsonObject, key: str, where: str) -> int:
        """A required integer field (not a boolean)."""
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where}.{key}: expected an integer")
        return value

    def opt_int(self, data: JsonObject, key: str, where: str) -> int | None:
        """An integer field that may be null or absent."""
        return None if data.get(key) is None else self.int_(data, key, where)

    def opt_float(self, data: JsonObject, key: str, where: str) -> float | None:
        """A number field that may be null or absent."""
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{where}.{key}: expected a number")
        return float(value)

    def bool_(self, data: JsonObject, key: str, where: str) -> bool:
        """A required boolean field."""
        value = data.get(key)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}: expected true or false")
        return value

    def str_list(
        self, data: JsonObject, key: str, where: str, *, required: bool = False
    ) -> tuple[str, ...]:
        """A list of strings (absent: empty, unless `required`)."""
        value = data.get(key) if required else data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}.{key}: expected a list of strings")
        return tuple(str(v) for v in value)

    def enum(self, cls: type[_E], data: JsonObject, key: str, where: str) -> _E:
        """A string field that must be one of `cls`'s values."""
        raw = self.str_(data, key, where)
        try:
            return cls(raw)
        except ValueError:
            raise self.fail(f"{where}.{key}: unknown value {raw!r}") from None
