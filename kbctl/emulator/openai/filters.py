"""Attribute filters of `POST /vector_stores/{id}/search`: validation of comparison and compound
filters (recursive) and their evaluation against a file's attributes.

Semantics where the reference is silent (UNCONFIRMED, documented in docs/emulator.md): a
comparison on a key the file does not have is false (`ne` and `nin` included); values of
different types never compare (a boolean is not a number); numbers compare numerically,
strings lexicographically; booleans support only `eq`/`ne`; `in`/`nin` take an array.

Owns filter logic. Must not know about stores, HTTP or ranking.
"""

from __future__ import annotations

from kbctl.emulator.openai.errors import bad_request, invalid_type
from kbctl.emulator.openai.records import Json
from kbctl.emulator.openai.validate import choice, closed, join, string

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
COMPOUNDS = ("and", "or")
MAX_DEPTH = 16


def check_filter(value: object, path: str = "filters", depth: int = 0) -> Json:
    """A valid filter (returned as sent) or a 400 naming the offending path."""
    if depth > MAX_DEPTH:
        raise bad_request(f"Invalid '{path}': filters nested too deeply.", path, "invalid_value")
    if not isinstance(value, dict):
        raise invalid_type(path, "an object", value)
    if value.get("type") in COMPOUNDS:
        obj = closed(value, path, ("type", "filters"), ("type", "filters"))
        items = obj["filters"]
        if not isinstance(items, list):
            raise invalid_type(join(path, "filters"), "an array", items)
        for i, item in enumerate(items):
            check_filter(item, f"{path}.filters[{i}]", depth + 1)
        return obj
    obj = closed(value, path, ("type", "key", "value"), ("key", "value"))
    kind = choice(obj.get("type", "eq"), join(path, "type"), COMPARISONS)
    string(obj["key"], join(path, "key"))
    target = obj["value"]
    where = join(path, "value")
    if kind in ("in", "nin"):
        if not isinstance(target, list):
            raise invalid_type(where, "an array", target)
        for i, item in enumerate(target):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise invalid_type(f"{where}[{i}]", "a string or number", item)
    elif not isinstance(target, str | int | float):
        raise invalid_type(where, "a string, number or boolean", target)
    return obj


def _same_kind(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str)
    return isinstance(a, int | float) and isinstance(b, int | float)


def _compare(kind: str, have: object, want: object) -> bool:
    if kind in ("in", "nin"):
        assert isinstance(want, list)
        found = any(_same_kind(have, w) and have == w for w in want)
        return found if kind == "in" else not found
    if not _same_kind(have, want):
        return False
    if kind == "eq":
        return have == want
    if kind == "ne":
        return have != want
    if isinstance(have, bool):
        return False
    left, right = have, want
    assert isinstance(left, str | int | float) and isinstance(right, str | int | float)
    if kind == "gt":
        return left > right  # type: ignore[operator]
    if kind == "gte":
        return left >= right  # type: ignore[operator]
    if kind == "lt":
        return left < right  # type: ignore[operator]
    return left <= right  # type: ignore[operator]


def matches(flt: Json, attrs: Json | None) -> bool:
    """Whether a file with `attrs` passes the (validated) filter `flt`."""
    kind = str(flt.get("type", "eq"))
    if kind in COMPOUNDS:
        parts = flt["filters"]
        assert isinstance(parts, list)
        results = (matches(part, attrs) for part in parts)
        return all(results) if kind == "and" else any(results)
    key = str(flt["key"])
    if attrs is None or key not in attrs:
        return False
    return _compare(kind, attrs[key], flt["value"])
