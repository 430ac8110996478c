"""Reading a plan file's JSON with the JSON path of every problem.

`JsonObject` wraps one parsed object and reads typed fields from it; anything missing or of the
wrong type raises `PlanFileError` with the path (`$.changes[3].action: expected …`) and the plan
file hint. No I/O, no knowledge of the plan's meaning (that is `kbctl.plan.planfile`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from kbctl.errors import PlanFileError
from kbctl.plan.types import RagValue

HINT = "Make a new one with `kbctl plan -e ENV --out PLAN.json`; plan files are not edited by hand."

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


class JsonObject:
    """A JSON object being read, with its JSON path for error messages."""

    def __init__(self, raw: object, path: str) -> None:
        if not isinstance(raw, dict):
            raise bad_field(path, "an object")
        self.raw: dict[str, object] = raw
        self.path = path

    def get(self, name: str) -> object:
        if name not in self.raw:
            raise PlanFileError(
                "The plan file is missing a field", detail=f"{self.path}.{name}", hint=HINT
            )
        return self.raw[name]

    def text(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str):
            raise bad_field(f"{self.path}.{name}", "a string")
        return value

    def opt_text(self, name: str, *, missing_ok: bool = False) -> str | None:
        if missing_ok and name not in self.raw:
            return None
        return None if self.get(name) is None else self.text(name)

    def integer(self, name: str) -> int:
        value = self.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad_field(f"{self.path}.{name}", "an integer")
        return value

    def opt_integer(self, name: str, *, missing_ok: bool = False) -> int | None:
        if missing_ok and name not in self.raw:
            return None
        return None if self.get(name) is None else self.integer(name)

    def number(self, name: str) -> float:
        value = self.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise bad_field(f"{self.path}.{name}", "a number")
        return float(value)

    def opt_number(self, name: str, default: float) -> float:
        """A number that plan files of older versions do not have."""
        return default if name not in self.raw else self.number(name)

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if not isinstance(value, bool):
            raise bad_field(f"{self.path}.{name}", "true or false")
        return value

    def rag(self, name: str) -> RagValue:
        value = self.get(name)
        if value is not None and not isinstance(value, bool | int | float | str):
            raise bad_field(f"{self.path}.{name}", "a string, number, boolean or null")
        return value

    def enum(self, name: str, cls: type[E]) -> E:
        value = self.text(name)
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise bad_field(f"{self.path}.{name}", f"one of {allowed}") from None

    def obj(self, name: str) -> JsonObject:
        return JsonObject(self.get(name), f"{self.path}.{name}")

    def objects(self, name: str) -> list[JsonObject]:
        return [
            JsonObject(item, f"{self.path}.{name}[{i}]") for i, item in enumerate(self._list(name))
        ]

    def each(self, name: str, read: Callable[[JsonObject], T]) -> tuple[T, ...]:
        return tuple(read(item) for item in self.objects(name))

    def texts(self, name: str) -> list[str]:
        items = self._list(name)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise bad_field(f"{self.path}.{name}[{i}]", "a string")
        return [item for item in items if isinstance(item, str)]

    def _list(self, name: str) -> list[object]:
        value = self.get(name)
        if not isinstance(value, list):
            raise bad_field(f"{self.path}.{name}", "a list")
        return value


def bad_field(path: str, expected: str) -> PlanFileError:
    return PlanFileError(
        "The plan file has a bad field", detail=f"{path}: expected {expected}", hint=HINT
    )
