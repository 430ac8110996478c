"""Checks of request values against the API's closed schemas and documented limits, raising
the 400s the real API answers (`unknown_parameter`, `invalid_type`, `…_above_max_…`): JSON
objects, strings, numbers, chunking strategies, attributes, metadata and list query strings.

Owns value-level validation. Must not touch state or know which endpoint is being served
(`bodies` composes these per endpoint).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from kbctl.emulator.openai.errors import (
    bad_request,
    invalid_type,
    invalid_value,
    missing_parameter,
    out_of_range,
    too_long,
    unknown_parameter,
)
from kbctl.emulator.openai.records import (
    MAX_CHUNK_TOKENS,
    MAX_KEY_CHARS,
    MAX_KEYS,
    MAX_VALUE_CHARS,
    MIN_CHUNK_TOKENS,
    STATUSES,
    Chunking,
    Json,
)


def parse_json(body: bytes) -> Json:
    """The request's JSON object (`{}` for an empty body, which the SDK sends on DELETE)."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        raise bad_request(
            "We could not parse the JSON body of your request. The OpenAI API expects a JSON "
            "payload, but what was sent was not valid JSON."
        ) from None
    if not isinstance(value, dict):
        raise invalid_type("body", "an object", value)
    return value


def join(prefix: str, key: str) -> str:
    """`attributes.title`, or `key` at the top level."""
    return f"{prefix}.{key}" if prefix else key


def closed(
    value: object, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
) -> Json:
    """`value` as an object with only `allowed` keys and every `required` one."""
    if not isinstance(value, dict):
        raise invalid_type(path or "body", "an object", value)
    for key in value:
        if key not in allowed:
            raise unknown_parameter(join(path, str(key)))
    for key in required:
        if key not in value:
            raise missing_parameter(join(path, key))
    return value


def string(value: object, path: str, max_len: int | None = None) -> str:
    """A string, at most `max_len` characters."""
    if not isinstance(value, str):
        raise invalid_type(path, "a string", value)
    if max_len is not None and len(value) > max_len:
        raise too_long(path, "string", max_len, len(value))
    return value


def integer(value: object, path: str, low: int | None = None, high: int | None = None) -> int:
    """An integer within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(path, "an integer", value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise out_of_range(path, value, low, high)
    return value


def number(value: object, path: str, low: float, high: float) -> float:
    """A number within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type(path, "a number", value)
    if not low <= value <= high:
        raise out_of_range(path, float(value), low, high)
    return float(value)


def boolean(value: object, path: str) -> bool:
    """A boolean."""
    if not isinstance(value, bool):
        raise invalid_type(path, "a boolean", value)
    return value


def choice(value: object, path: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed`."""
    text = string(value, path)
    if text not in allowed:
        raise invalid_value(path, text, allowed)
    return text


def chunking(value: object, path: str = "chunking_strategy") -> Chunking:
    """`{"type": "auto"}` or a static strategy within the documented limits."""
    obj = closed(value, path, ("type", "static"), ("type",))
    kind = choice(obj["type"], join(path, "type"), ("auto", "static"))
    if kind == "auto":
        if "static" in obj:
            raise unknown_parameter(join(path, "static"))
        return Chunking()
    if "static" not in obj:
        raise missing_parameter(join(path, "static"))
    where = join(path, "static")
    static = closed(
        obj["static"],
        where,
        ("max_chunk_size_tokens", "chunk_overlap_tokens"),
        ("max_chunk_size_tokens", "chunk_overlap_tokens"),
    )
    size = integer(
        static["max_chunk_size_tokens"],
        join(where, "max_chunk_size_tokens"),
        MIN_CHUNK_TOKENS,
        MAX_CHUNK_TOKENS,
    )
    overlap = integer(static["chunk_overlap_tokens"], join(where, "chunk_overlap_tokens"), 0)
    if overlap > size // 2:
        raise bad_request(
            f"Invalid '{join(where, 'chunk_overlap_tokens')}': chunk_overlap_tokens must not "
            f"exceed half of max_chunk_size_tokens ({size // 2}), but got {overlap}.",
            join(where, "chunk_overlap_tokens"),
            "invalid_value",
        )
    return Chunking(size, overlap)


def _keys(obj: Json, path: str) -> None:
    if len(obj) > MAX_KEYS:
        raise too_long(path, "object", MAX_KEYS, len(obj))
    for key in obj:
        if len(key) > MAX_KEY_CHARS:
            raise bad_request(
                f"Invalid '{path}': key '{key[:80]}' is too long. Expected keys with maximum "
                f"length {MAX_KEY_CHARS}, but got a key with length {len(key)} instead.",
                path,
                "invalid_value",
            )


def attributes(value: object, path: str = "attributes") -> Json | None:
    """A vector-store file's attributes: null, or ≤16 keys of ≤64 characters whose values are
    strings (≤512 characters), numbers or booleans."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type(path, "an object", value)
    _keys(value, path)
    out: Json = {}
    for key, item in value.items():
        where = join(path, key)
        if isinstance(item, str):
            string(item, where, MAX_VALUE_CHARS)
        elif not isinstance(item, bool | int | float):
            raise invalid_type(where, "a string, number or boolean", item)
        out[key] = item
    return out


def metadata(value: object, path: str = "metadata") -> dict[str, str] | None:
    """A vector store's metadata: null, or ≤16 string pairs (keys ≤64, values ≤512)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type(path, "an object", value)
    _keys(value, path)
    return {key: string(item, join(path, key), MAX_VALUE_CHARS) for key, item in value.items()}


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Cursor-list parameters of a GET."""

    limit: int
    descending: bool
    after: str | None
    before: str | None
    status: str | None


def list_query(
    query: Mapping[str, list[str]],
    *,
    max_limit: int = 100,
    default_limit: int = 20,
    before: bool = True,
    status_filter: bool = False,
) -> ListQuery:
    """`limit`, `order`, `after` (and `before`, `filter` where the endpoint has them); other
    query parameters are ignored, as the SDK never sends them."""

    def one(name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values else None

    raw_limit = one("limit")
    limit = default_limit
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise invalid_type("limit", "an integer", raw_limit) from None
        if not 1 <= limit <= max_limit:
            raise out_of_range("limit", limit, 1, max_limit)
    order = one("order") or "desc"
    if order not in ("asc", "desc"):
        raise invalid_value("order", order, ("asc", "desc"))
    status = one("filter") if status_filter else None
    if status is not None and status not in STATUSES:
        raise invalid_value("filter", status, STATUSES)
    return ListQuery(
        limit=limit,
        descending=order == "desc",
        after=one("after") or None,
        before=(one("before") or None) if before else None,
        status=status,
    )
