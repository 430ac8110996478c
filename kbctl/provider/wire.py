"""Small typed readers for JSON answers, so no `Any` leaves the provider.

Every reader takes the value and a dotted `where` (e.g. `documents[3].metadata.size_bytes`) and
raises `ShapeError` when the answer does not have the expected shape. Absent and `null` fields are
the same thing here (the API omits unset fields and sometimes sends `null`). `ShapeError` is
internal: the provider turns it into a `ProtocolError` naming the request.
"""

from __future__ import annotations

from collections.abc import Mapping


class ShapeError(Exception):
    """A JSON answer does not have the shape kbctl expects."""


JsonObject = Mapping[str, object]


def _kind(value: object) -> str:
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


def obj(value: object, where: str) -> JsonObject:
    """`value` as a JSON object."""
    if not isinstance(value, dict):
        raise ShapeError(f"{where}: expected an object, got {_kind(value)}")
    return value


def items(value: object, where: str) -> list[object]:
    """`value` as a JSON list (`null` reads as empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ShapeError(f"{where}: expected a list, got {_kind(value)}")
    return value


def field_obj(data: JsonObject, key: str, where: str) -> JsonObject | None:
    """An optional object field."""
    value = data.get(key)
    return None if value is None else obj(value, f"{where}.{key}")


def field_list(data: JsonObject, key: str, where: str) -> list[object]:
    """An optional list field (absent or `null` → empty)."""
    return items(data.get(key), f"{where}.{key}")


def opt_str(data: JsonObject, key: str, where: str) -> str | None:
    """An optional string field."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ShapeError(f"{where}.{key}: expected a string, got {_kind(value)}")
    return value


def req_str(data: JsonObject, key: str, where: str) -> str:
    """A required string field."""
    value = opt_str(data, key, where)
    if value is None:
        raise ShapeError(f"{where}.{key}: missing")
    return value


def opt_bool(data: JsonObject, key: str, where: str) -> bool | None:
    """An optional boolean field."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ShapeError(f"{where}.{key}: expected a boolean, got {_kind(value)}")
    return value


def opt_int(data: JsonObject, key: str, where: str) -> int | None:
    """An optional integer field (a float with no fraction is accepted)."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ShapeError(f"{where}.{key}: expected an integer, got {_kind(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ShapeError(f"{where}.{key}: expected an integer, got {value}")
        return int(value)
    return value


def opt_float(data: JsonObject, key: str, where: str) -> float | None:
    """An optional number field."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ShapeError(f"{where}.{key}: expected a number, got {_kind(value)}")
    return float(value)
