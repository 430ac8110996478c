"""Cursor pagination of ElevenLabs listings (`next_cursor`, and `has_more` where it exists).

Owns following cursors to the last page and the one tolerated gap: `has_more: true` with no
cursor ends the listing with a warning (collected by the caller, never printed) instead of
failing the read. A cursor that repeats is a `ShapeError` (following it would never end). It
must not parse the entries of a page.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

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
    prefetch: bool = False,
) -> Iterator[JsonObj]:
    """Every page of `path`, or the first `limit` pages.

    With `prefetch` (for callers that read to the end), the next page is asked for before the
    current one is handed over, so the caller's work on a page overlaps the next round trip.

    Raises `ShapeError`: callers iterate inside `shapes.reading`, which also covers their parsing.
    """
    seen: set[str] = set()
    served = 0

    def fetch(cursor: str | None) -> JsonObj:
        query: Params = {**params, "cursor": cursor}
        if "page_size" not in query:
            query = {**query, "page_size": page_size}
        return answer(client.get_json(path, params=query, route=route), "page")

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kbctl-page") as ahead:
        upcoming: Future[JsonObj] | None = None
        page = fetch(None)
        while True:
            served += 1
            cursor = _next_cursor(page, path, served, seen, warnings, limit)
            if cursor is not None and prefetch:
                upcoming = ahead.submit(fetch, cursor)
            yield page
            if cursor is None:
                return
            page = upcoming.result() if upcoming is not None else fetch(cursor)


def _next_cursor(
    page: JsonObj,
    path: str,
    served: int,
    seen: set[str],
    warnings: list[str] | None,
    limit: int | None,
) -> str | None:
    """The cursor of the page after `page` (the `served`-th), or None: the listing ends."""
    next_cursor = page.opt_text("next_cursor")
    has_more = page.opt_flag("has_more")
    if has_more is None:  # search/chunks have no `has_more`
        has_more = bool(next_cursor)
    if not has_more or (limit is not None and served >= limit):
        return None
    if not next_cursor:
        if warnings is not None:
            warnings.append(
                f"GET {path}: page {served} says more pages follow but gives no cursor; "
                "the listing ends there and may be incomplete"
            )
        return None
    if next_cursor in seen:
        raise ShapeError(f"{page.at('next_cursor')}: {next_cursor!r} repeats")
    seen.add(next_cursor)
    return next_cursor
