"""Keyset pagination shared by every listing: opaque cursors that survive inserts and deletes
between pages, and a page walk that never re-sorts or re-scans earlier pages.

Owns cursor encoding and the walk. Must not know what is being listed or how it is sorted: the
caller passes the ordered items, their positions and their sort keys.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kbctl.emulator.workspace.errors import Unprocessable

T = TypeVar("T")
SortKey = tuple[int, object, int]  # (folder rank, primary value, creation sequence)


@dataclass(frozen=True, slots=True)
class Ordering(Generic[T]):
    """Items in listing order, with each item's position (by id) and sort key."""

    items: Sequence[T]
    positions: dict[str, int]
    keys: Sequence[SortKey]
    descending: bool


def encode_cursor(last_id: str, key: SortKey) -> str:
    """An opaque cursor pointing just after the item `last_id` (whose sort key is `key`)."""
    raw = json.dumps([last_id, list(key)], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _bad_cursor(cursor: str) -> Unprocessable:
    return Unprocessable(
        [
            {
                "type": "value_error",
                "loc": ["query", "cursor"],
                "msg": "Value error, invalid cursor",
                "input": cursor,
            }
        ]
    )


def decode_cursor(cursor: str) -> tuple[str, SortKey]:
    """The (last id, sort key) inside a cursor; a 422 if it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        last_id, key = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        rank, primary, seq = key
        if not isinstance(last_id, str) or not isinstance(rank, int) or not isinstance(seq, int):
            raise ValueError(cursor)
        return last_id, (rank, primary, seq)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad_cursor(cursor) from exc


def _is_after(key: SortKey, cursor: SortKey, descending: bool) -> bool:
    if key[0] != cursor[0]:
        return key[0] > cursor[0]
    mine, theirs = (key[1], key[2]), (cursor[1], cursor[2])
    try:
        return mine < theirs if descending else mine > theirs
    except TypeError:
        return False


def start_position(ordering: Ordering[T], cursor: str | None) -> int:
    """Index in `ordering.items` where the page after `cursor` starts."""
    if not cursor:
        return 0
    last_id, key = decode_cursor(cursor)
    pos = ordering.positions.get(last_id)
    if pos is not None and list(ordering.keys[pos]) == list(key):
        return pos + 1
    # The item moved or vanished since the cursor was made: the first item after its key.
    for i, item_key in enumerate(ordering.keys):
        if _is_after(item_key, key, ordering.descending):
            return i
    return len(ordering.items)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page: items, whether more match, and the cursor of the next page."""

    items: list[T]
    has_more: bool
    next_cursor: str | None


def page(
    ordering: Ordering[T],
    cursor: str | None,
    page_size: int,
    matches: Callable[[T], bool],
    ident: Callable[[T], str],
) -> Page[T]:
    """The next `page_size` matching items after `cursor`."""
    pos = start_position(ordering, cursor)
    out: list[T] = []
    last = -1
    has_more = False
    items = ordering.items
    while pos < len(items):
        item = items[pos]
        if matches(item):
            if len(out) == page_size:
                has_more = True
                break
            out.append(item)
            last = pos
        pos += 1
    next_cursor = encode_cursor(ident(out[-1]), ordering.keys[last]) if has_more and out else None
    return Page(out, has_more, next_cursor)


def offset_cursor(offset: int) -> str:
    """A cursor for result lists that are recomputed per request (content search)."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_offset(cursor: str | None) -> int:
    """The offset inside an `offset_cursor`; 0 without one; 422 if it is not one of ours."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        if not raw.startswith("o:"):
            raise ValueError(raw)
        value = int(raw[2:])
        if value < 0:
            raise ValueError(raw)
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad_cursor(cursor) from exc
