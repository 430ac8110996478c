"""Cursor pagination of ElevenLabs listings (`next_cursor`, and `has_more` where it exists).

Owns following cursors to the last page and the one tolerated gap: `has_more: true` with no
cursor ends the listing with a warning (collected by the caller, never printed) instead of
failing the read. A cursor that repeats is a `ShapeError` (following it would never end). It
must not parse the entries of a page.
"""

from __future__ import annotations

from collections.abc import Iterator

from kbctl.jsonread import JsonObj
from kbctl.provider.http import ApiClient
from kbctl.provider.http_parts import Params
from kbctl.provider.wire import ShapeError, answer


def pages(
    client: ApiClient,
    path: str,
    params: Params,
    route: str,
    *,
    page_size: int,
    warnings: list[str] | None = None,
    limit: int | None = None,
) -> Iterator[JsonObj]:
    """Every page of `path`, or the first `limit` pages.

    Raises `ShapeError`: callers iterate inside `shapes.reading`, which also covers their parsing.
    """
    cursor: str | None = None
    seen: set[str] = set()
    served = 0
    while True:
        query: Params = {**params, "cursor": cursor}
        if "page_size" not in query:
            query = {**query, "page_size": page_size}
        data = client.get_json(path, params=query, route=route)
        page = answer(data, "page")
        yield page
        served += 1
        next_cursor = page.opt_text("next_cursor")
        has_more = page.opt_flag("has_more")
        if has_more is None:  # search/chunks have no `has_more`
            has_more = bool(next_cursor)
        if not has_more or (limit is not None and served >= limit):
            return
        if not next_cursor:
            if warnings is not None:
                warnings.append(
                    f"GET {path}: page {served} says more pages follow but gives no cursor; "
                    "the listing ends there and may be incomplete"
                )
            return
        if next_cursor in seen:
            raise ShapeError(f"{page.at('next_cursor')}: {next_cursor!r} repeats")
        seen.add(next_cursor)
        cursor = next_cursor
