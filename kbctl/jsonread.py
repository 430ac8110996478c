"""Typed reading of untrusted JSON: the one reader of plan files, snapshots, check reports and
API answers.

A `JsonReader` holds a reader's policy and how it fails; `reader.root(value, "$")` gives a
`JsonObj`, a JSON object with its path, whose typed accessors (`text`, `opt_integer`, `enum`,
`objs`, `each`, `values`…) check each field as it is read. Every problem is one message naming the
field's path and what was there instead (`$.changes[2].key: expected a string, got null`),
raised as the caller's own error: `fail(message)` makes it (a `PlanFileError`, a
`SnapshotError`, the provider's `ShapeError`…), `missing(path)` for an absent field if the caller
words that differently.

The policies the callers differ in, and nothing else:

- `keys_required`: an absent field is an error even where `null` is allowed (plan files: every
  field is written; `missing_ok=True` marks fields older files do not have). Without it, absent
  and `null` are the same (API answers, snapshot records).
- `integral_floats`: an integer may come as `3.0` (API answers); otherwise it must be a JSON
  integer. A boolean is never a number.

Optional accessors (`opt_…`) read absent or `null` as None; optional lists (`opt_objs`,
`opt_texts`) as empty. No I/O; knows nothing of what the fields mean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from enum import Enum
from typing import Final, TypeVar

_E = TypeVar("_E", bound=Enum)
_T = TypeVar("_T")

#: A JSON scalar: what a RAG setting or an attribute value may be.
Scalar = str | int | float | bool | None

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def kind(value: object) -> str:
    """What a JSON value is, for messages: `null`, `a string`, `an object`…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def field_path(path: str, name: str) -> str:
    """`path.name`, or `path["odd key"]` for a key that is not a plain name (`a.md`, `x y`)."""
    step = f".{name}" if _NAME.fullmatch(name) else f"[{json.dumps(name, ensure_ascii=False)}]"
    return step[1:] if not path and step.startswith(".") else path + step


class JsonReader:
    """How one kind of JSON is read, and the error it raises (see the module docstring)."""

    def __init__(
        self,
        fail: Callable[[str], Exception],
        *,
        missing: Callable[[str], Exception] | None = None,
        keys_required: bool = False,
        integral_floats: bool = False,
    ) -> None:
        self.fail = fail
        self._missing = missing
        self.keys_required = keys_required
        self.integral_floats = integral_floats

    # Errors ---------------------------------------------------------------------------------

    def expected(self, path: str, what: str, value: object) -> Exception:
        """The error for `value` at `path` that should have been `what`."""
        got = kind(value)
        if isinstance(value, str) and len(value) <= 40:
            got = f"{value!r}"
        return self.fail(f"{path}: expected {what}, got {got}")

    def missing(self, path: str) -> Exception:
        """The error for a required field that is absent."""
        return self._missing(path) if self._missing else self.fail(f"{path}: missing")

    # Values at a path -------------------------------------------------------------------------

    def root(self, value: object, path: str) -> JsonObj:
        """`value` as an object read at `path` (`$`, `snapshot`, `answer`…)."""
        if not isinstance(value, dict):
            raise self.expected(path, "an object", value)
        return JsonObj(self, value, path)

    def list_at(self, value: object, path: str) -> list[object]:
        """`value` as a list."""
        if not isinstance(value, list):
            raise self.expected(path, "a list", value)
        return value

    def str_at(self, value: object, path: str) -> str:
        """`value` as a string."""
        if not isinstance(value, str):
            raise self.expected(path, "a string", value)
        return value

    def int_at(self, value: object, path: str) -> int:
        """`value` as an integer (never a boolean; `3.0` only with `integral_floats`)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if self.integral_floats and isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, float):
            raise self.fail(f"{path}: expected an integer, got {value!r}")
        raise self.expected(path, "an integer", value)

    def float_at(self, value: object, path: str) -> float:
        """`value` as a number (never a boolean)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.expected(path, "a number", value)
        return float(value)

    def bool_at(self, value: object, path: str) -> bool:
        """`value` as true or false."""
        if not isinstance(value, bool):
            raise self.expected(path, "true or false", value)
        return value

    def scalar_at(self, value: object, path: str) -> Scalar:
        """`value` as a string, number, boolean or null."""
        if value is not None and not isinstance(value, str | int | float | bool):
            raise self.expected(path, "a string, number, boolean or null", value)
        return value

    def enum_at(self, cls: type[_E], value: object, path: str) -> _E:
        """`value` as one of `cls`'s values."""
        raw = self.str_at(value, path)
        try:
            return cls(raw)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in cls)
            raise self.fail(f"{path}: expected one of {allowed}, got {raw!r}") from None


class JsonObj:
    """One JSON object being read: its fields, typed, each problem naming `path.field`."""

    __slots__ = ("path", "raw", "reader")

    def __init__(self, reader: JsonReader, raw: dict[str, object], path: str) -> None:
        self.reader = reader
        self.raw = raw
        self.path = path

    def at(self, name: str) -> str:
        """The path of field `name`."""
        return field_path(self.path, name)

    def has(self, name: str) -> bool:
        """Whether the field is there at all (even as `null`)."""
        return name in self.raw

    def value(self, name: str, *, missing_ok: bool = False) -> object:
        """The field's raw value; absent is an error only with `keys_required`."""
        if name not in self.raw:
            if self.reader.keys_required and not missing_ok:
                raise self.reader.missing(self.at(name))
            return None
        return self.raw[name]

    def _required(self, name: str) -> object:
        if name not in self.raw:
            raise self.reader.missing(self.at(name))
        return self.raw[name]

    # Scalars ----------------------------------------------------------------------------------

    def text(self, name: str) -> str:
        """A required string."""
        value = self._required(name)
        if type(value) is str:  # the common case, without building the field's path
            return value
        return self.reader.str_at(value, self.at(name))

    def opt_text(self, name: str, *, missing_ok: bool = False) -> str | None:
        """A string, or None for `null` (or absent)."""
        value = self.value(name, missing_ok=missing_ok)
        if value is None or type(value) is str:
            return value
        return self.reader.str_at(value, self.at(name))

    def integer(self, name: str) -> int:
        """A required integer."""
        value = self._required(name)
        if type(value) is int:
            return value
        return self.reader.int_at(value, self.at(name))

    def opt_integer(self, name: str, *, missing_ok: bool = False) -> int | None:
        """An integer, or None for `null` (or absent)."""
        value = self.value(name, missing_ok=missing_ok)
        if value is None or type(value) is int:
            return value
        return self.reader.int_at(value, self.at(name))

    def number(self, name: str) -> float:
        """A required number."""
        return self.reader.float_at(self._required(name), self.at(name))

    def opt_number(self, name: str, *, missing_ok: bool = False) -> float | None:
        """A number, or None for `null` (or absent)."""
        value = self.value(name, missing_ok=missing_ok)
        return None if value is None else self.reader.float_at(value, self.at(name))

    def flag(self, name: str) -> bool:
        """A required true or false."""
        return self.reader.bool_at(self._required(name), self.at(name))

    def opt_flag(self, name: str, *, missing_ok: bool = False) -> bool | None:
        """True or false, or None for `null` (or absent)."""
        value = self.value(name, missing_ok=missing_ok)
        return None if value is None else self.reader.bool_at(value, self.at(name))

    def scalar(self, name: str) -> Scalar:
        """A string, number, boolean or null (present, with `keys_required`)."""
        return self.reader.scalar_at(self.value(name), self.at(name))

    def enum(self, name: str, cls: type[_E]) -> _E:
        """A required string that must be one of `cls`'s values."""
        return self.reader.enum_at(cls, self._required(name), self.at(name))

    # Containers -------------------------------------------------------------------------------

    def obj(self, name: str) -> JsonObj:
        """A required object."""
        return self.reader.root(self._required(name), self.at(name))

    def opt_obj(self, name: str, *, missing_ok: bool = False) -> JsonObj | None:
        """An object, or None for `null` (or absent)."""
        value = self.value(name, missing_ok=missing_ok)
        return None if value is None else self.reader.root(value, self.at(name))

    def obj_or_empty(self, name: str) -> JsonObj:
        """An object; `null` (or absent) reads as an empty one."""
        found = self.opt_obj(name, missing_ok=True)
        return found if found is not None else JsonObj(self.reader, {}, self.at(name))

    def items(self, name: str) -> list[object]:
        """A required list, its items unread."""
        return self.reader.list_at(self._required(name), self.at(name))

    def opt_items(self, name: str, *, missing_ok: bool = False) -> list[object] | None:
        """A list, or None for `null` (or absent)."""
        value = self.value(name, missing_ok=missing_ok)
        return None if value is None else self.reader.list_at(value, self.at(name))

    def objs(self, name: str) -> list[JsonObj]:
        """A required list of objects, each with its path (`name[3]`)."""
        return self._objs(name, self.items(name))

    def opt_objs(self, name: str, *, missing_ok: bool = False) -> list[JsonObj]:
        """A list of objects; `null` (or absent) reads as empty."""
        return self._objs(name, self.opt_items(name, missing_ok=missing_ok) or [])

    def each(self, name: str, read: Callable[[JsonObj], _T]) -> tuple[_T, ...]:
        """`read` applied to each object of a required list."""
        return tuple(read(item) for item in self.objs(name))

    def texts(self, name: str) -> tuple[str, ...]:
        """A required list of strings."""
        return self._texts(name, self.items(name))

    def opt_texts(self, name: str, *, missing_ok: bool = False) -> tuple[str, ...]:
        """A list of strings; `null` (or absent) reads as empty."""
        return self._texts(name, self.opt_items(name, missing_ok=missing_ok) or [])

    def values(self, read: Callable[[object, str], _T]) -> dict[str, _T]:
        """This object as a mapping: every value read by `read(value, path)` (e.g.
        `reader.int_at`), in the object's order."""
        return {key: read(value, self.at(key)) for key, value in self.raw.items()}

    def _objs(self, name: str, items: list[object]) -> list[JsonObj]:
        at = self.at(name)
        return [self.reader.root(item, f"{at}[{i}]") for i, item in enumerate(items)]

    def _texts(self, name: str, items: list[object]) -> tuple[str, ...]:
        at = self.at(name)
        return tuple(self.reader.str_at(item, f"{at}[{i}]") for i, item in enumerate(items))
