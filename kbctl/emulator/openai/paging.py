"""Cursor pages of the OpenAI list endpoints: `{"object": "list", "data", "first_id",
"last_id", "has_more"}` over items in creation order, `after`/`before` by object id.

A cursor naming an object deleted since (while this process runs) still works: its position is
remembered. A cursor that never named an object is a 400 (the real API's answer is UNCONFIRMED).

Owns windowing. Must not know what the items are beyond their id and creation sequence.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from kbctl.emulator.openai.errors import bad_request
from kbctl.emulator.openai.records import Json
from kbctl.emulator.openai.validate import ListQuery

T = TypeVar("T")


def _cursor_seq(name: str, cursor: str, seqs: Mapping[str, int], gone: Mapping[str, int]) -> int:
    seq = seqs.get(cursor, gone.get(cursor))
    if seq is None:
        raise bad_request(
            f"Invalid '{name}': no object with id '{cursor}' in this list.", name, "invalid_value"
        )
    return seq


def page(
    items: Sequence[T],
    q: ListQuery,
    *,
    ident: Callable[[T], str],
    seq: Callable[[T], int],
    view: Callable[[T], Json],
    gone: Mapping[str, int],
) -> Json:
    """One page of `items` (any order; sorted here by `seq`) as the list envelope."""
    ordered = sorted(items, key=seq, reverse=q.descending)
    seqs = {ident(item): seq(item) for item in ordered}
    # positions in list order, as a key that grows along the list
    keys = [-seq(item) if q.descending else seq(item) for item in ordered]

    def key_of(value: int) -> int:
        return -value if q.descending else value

    start, stop = 0, len(ordered)
    if q.after is not None:
        start = bisect.bisect_right(keys, key_of(_cursor_seq("after", q.after, seqs, gone)))
    if q.before is not None:
        stop = bisect.bisect_left(keys, key_of(_cursor_seq("before", q.before, seqs, gone)))
    if q.before is not None and q.after is None:
        window = ordered[max(start, stop - q.limit) : stop]
        has_more = stop - start > q.limit
    else:
        window = ordered[start : min(stop, start + q.limit)]
        has_more = stop - start > q.limit
    data = [view(item) for item in window]
    return {
        "object": "list",
        "data": data,
        "first_id": ident(window[0]) if window else None,
        "last_id": ident(window[-1]) if window else None,
        "has_more": has_more,
    }
