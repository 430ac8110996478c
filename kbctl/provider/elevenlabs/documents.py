"""Knowledge-base documents over the wire: list, find, create, rename, read, dependents, delete.

Owns the document endpoints' paths and bodies, and what happens when a create's answer is lost
(a 5xx or timeout on POST: the write may or may not have happened). A document create is tried
again after the client's backoff, and the lost answer goes into the run's `CreateLedger`
(`kbctl.provider.ledger`): apply finds the copies that landed once per run, off the critical path
(`kbctl.apply.extras`), instead of listing after every failure. Only when every attempt lost its
answer is the document looked for (two bounded queries, never a full scan). A folder create
(the lease's) looks for its folder after each lost answer, as before. It must not decide what to
create or delete (the planner and executor do).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterator
from typing import Final

from kbctl.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UsageError,
)
from kbctl.identity import parse_marker
from kbctl.model import DocType, DocumentSpec, LiveDocument
from kbctl.provider.base import BranchRef, DeleteOutcome, Dependents, SearchHit
from kbctl.provider.elevenlabs.paging import pages
from kbctl.provider.elevenlabs.shapes import (
    KB,
    MAX_PAGE_SIZE,
    Listed,
    doc_not_found,
    listed,
    search_snippet,
    seg,
)
from kbctl.provider.http import AmbiguousWriteError, ApiClient
from kbctl.provider.http_parts import FilePart, Params
from kbctl.provider.ledger import CreateLedger
from kbctl.provider.wire import answer, reading

#: Statuses a refused delete (document still in use) may come with: the real one is UNCONFIRMED.
IN_USE_STATUSES: Final = frozenset({400, 409, 412, 423})
_IN_USE_WORDS: Final = (
    "in use",
    "in_use",
    "used by",
    "dependent",
    "depend",
    "attached",
    "referenced",
)
_LIST_ROUTE: Final = "GET /v1/convai/knowledge-base"


class Documents:
    """The document endpoints, through one `ApiClient`."""

    def __init__(self, client: ApiClient, page_size: int) -> None:
        self._client = client
        self._page_size = page_size
        #: The creates whose answer was lost, and those answered, until apply takes them.
        self.ledger = CreateLedger()

    # ---------------------------------------------------------------------------------------
    # Reading

    def listing(
        self,
        *,
        search: str | None = None,
        warnings: list[str] | None = None,
        newest_first: bool = False,
        first_page_only: bool = False,
        doc_type: DocType | None = None,
    ) -> list[Listed]:
        """Documents of the listing (every page unless `first_page_only`); entries of unknown
        types are skipped."""
        params: Params = {"page_size": self._page_size, "search": search}
        if doc_type is not None:
            params = {**params, "types": doc_type.value}
        if newest_first:
            params = {**params, "sort_by": "created_at", "sort_direction": "desc"}
            if first_page_only:
                params = {**params, "page_size": MAX_PAGE_SIZE}
        out: list[Listed] = []
        limit = 1 if first_page_only else None
        with reading("GET", KB):
            for page in pages(
                self._client,
                KB,
                params,
                _LIST_ROUTE,
                page_size=self._page_size,
                warnings=warnings,
                limit=limit,
                prefetch=limit is None,  # read to the end: ask for a page while reading one
            ):
                for item in page.opt_objs("documents"):
                    entry = listed(item)
                    if entry is not None:
                        out.append(entry)
        return out

    def recent(self, since: float, *, limit: int | None = None) -> tuple[LiveDocument, ...]:
        """Documents created at `since` (unix seconds) or later: the listing newest first, read
        page by page until an older document (pages of 100: ⌈new/100⌉ requests), or `limit`
        pages."""
        params: Params = {
            "page_size": MAX_PAGE_SIZE,
            "sort_by": "created_at",
            "sort_direction": "desc",
        }
        out: list[Listed] = []
        with reading("GET", KB):
            for page in pages(
                self._client, KB, params, _LIST_ROUTE, page_size=MAX_PAGE_SIZE, limit=limit
            ):
                found = [e for e in map(listed, page.opt_objs("documents")) if e is not None]
                out += [e for e in found if e.created_at is None or e.created_at >= since]
                if any(e.created_at is not None and e.created_at < since for e in found):
                    break
        return _live(out)

    def newest_pages(self) -> Iterator[tuple[LiveDocument, ...]]:
        """The listing newest first, one page of 100 at a time, for as long as the caller reads
        (it stops once it has seen old enough documents)."""
        params: Params = {
            "page_size": MAX_PAGE_SIZE,
            "sort_by": "created_at",
            "sort_direction": "desc",
        }
        with reading("GET", KB):
            for page in pages(self._client, KB, params, _LIST_ROUTE, page_size=MAX_PAGE_SIZE):
                yield _live([e for e in map(listed, page.opt_objs("documents")) if e is not None])

    def newest_named(self, name: str) -> tuple[LiveDocument, ...]:
        """Documents named exactly `name` on the first page of the name search, newest first:
        one request (the search can miss a document; the caller must tolerate that)."""
        found = self.listing(search=name, newest_first=True, first_page_only=True)
        return _live([d for d in found if d.name == name])

    def find_by_name(self, name: str) -> tuple[LiveDocument, ...]:
        """Every document named exactly `name`: the prefix `search` first, then a full listing
        when that finds nothing (the reference says `search` can miss documents)."""
        found = [d for d in self.listing(search=name) if d.name == name]
        if not found:
            found = [d for d in self.listing() if d.name == name]
        return _live(found)

    def find_recent_by_name(self, name: str) -> tuple[LiveDocument, ...]:
        """Documents named exactly `name` among the newest: the first page of the name search,
        newest first, then (`search` can miss documents) the first page of the whole listing,
        newest first. At most two requests, whatever the size of the workspace."""
        found = [
            d
            for d in self.listing(search=name, newest_first=True, first_page_only=True)
            if d.name == name
        ]
        if not found:
            newest = self.listing(newest_first=True, first_page_only=True)
            found = [d for d in newest if d.name == name]
        return _live(found)

    def named(self, prefix: str, *, doc_type: DocType | None = None) -> tuple[LiveDocument, ...]:
        """Every document whose name starts with `prefix` (all pages of the full listing, or of
        the listing of `doc_type`; never the name `search`, which can miss documents). An API
        that ignored `types` only costs pages: the type is checked here too."""
        found = [
            d
            for d in self.listing(doc_type=doc_type)
            if d.name.startswith(prefix) and (doc_type is None or d.doc_type is doc_type)
        ]
        return tuple(
            LiveDocument(d.id, d.name, d.doc_type, d.size_bytes, None, d.created_at, d.updated_at)
            for d in sorted({d.id: d for d in found}.values(), key=lambda d: d.id)
        )

    def url(self, doc_id: str) -> str | None:
        """The source URL of a URL document (None for other types), from its detail."""
        path = f"{KB}/{seg(doc_id)}"
        try:
            data = self._client.get_json(path, route="GET /v1/convai/knowledge-base/{id}")
        except NotFoundError as exc:
            raise doc_not_found(exc, doc_id) from None
        with reading("GET", path):
            detail = answer(data)
            if detail.opt_text("type") != DocType.URL.value:
                return None
            return detail.opt_text("url")

    def content(self, doc_id: str) -> bytes:
        """The content as the API returns it (raw text, not JSON; the key redacted)."""
        path = f"{KB}/{seg(doc_id)}/content"
        try:
            return self._client.get_bytes(path, route="GET /v1/convai/knowledge-base/{id}/content")
        except NotFoundError as exc:
            raise doc_not_found(exc, doc_id) from None

    def dependents(self, doc_id: str) -> Dependents:
        """Agents and branches that use the document (every page)."""
        path = f"{KB}/{seg(doc_id)}/dependent-agents"
        agent_ids: dict[str, None] = {}
        branches: dict[tuple[str, str], BranchRef] = {}
        unknown = 0
        route = "GET /v1/convai/knowledge-base/{id}/dependent-agents"
        try:
            with reading("GET", path):
                for page in pages(self._client, path, {}, route, page_size=self._page_size):
                    for found in page.opt_objs("agents"):
                        ident = found.opt_text("id")
                        if found.opt_text("type") == "available" and ident:
                            agent_ids[ident] = None
                        else:  # an agent the key cannot see (or a kind kbctl does not know)
                            unknown += 1
                    for branch in page.opt_objs("branches"):
                        ref = BranchRef(
                            agent_id=branch.text("agent_id"),
                            branch_id=branch.text("branch_id"),
                            is_main=branch.opt_flag("is_main") is True,
                        )
                        branches[(ref.agent_id, ref.branch_id)] = ref
        except NotFoundError as exc:
            raise doc_not_found(exc, doc_id) from None
        return Dependents(tuple(agent_ids), tuple(branches.values()), unknown)

    def search(self, query: str, limit: int) -> tuple[SearchHit, ...]:
        """Knowledge-base content search, best first, at most `limit` hits."""
        if limit <= 0:
            return ()
        path = f"{KB}/search"
        hits: list[SearchHit] = []
        params: Params = {"query": query, "page_size": min(limit, MAX_PAGE_SIZE)}
        route = "GET /v1/convai/knowledge-base/search"
        with reading("GET", path):
            for page in pages(self._client, path, params, route, page_size=self._page_size):
                for result in page.opt_objs("results"):
                    doc = result.opt_obj("document")
                    if doc is None:
                        continue
                    hits.append(
                        SearchHit(
                            document_id=doc.text("id"),
                            name=doc.opt_text("name") or "",
                            score=result.opt_number("score") or 0.0,
                            snippet=search_snippet(result),
                        )
                    )
                if len(hits) >= limit:
                    break
        return tuple(hits[:limit])

    # ---------------------------------------------------------------------------------------
    # Writing

    def create(self, spec: DocumentSpec, name: str) -> str:
        """Create the document. A lost answer is recorded in `ledger` and the create tried again
        after the backoff (no lookup: apply finds the copies that landed, once per run); when
        every attempt lost its answer, the document is looked for by name before giving up."""
        clock = self._client.clock
        attempt = 0
        while True:
            sent_at = clock.monotonic()
            try:
                doc_id = self._create_once(spec, name)
            except AmbiguousWriteError as exc:
                self.ledger.lost(name, sent_at)
                if attempt >= self._client.max_retries:
                    found = self.find_recent_by_name(name)
                    if not found:
                        raise exc.cause from None
                    # The newest: an older document of the same name (edited in place) is not
                    # this create's; the other copies are extra, for apply to delete.
                    doc_id = max(found, key=lambda d: (d.created_at or 0, d.id)).id
                else:
                    reason = f"HTTP {exc.status}" if exc.status else "connection lost"
                    self._client.wait_before_retry(
                        attempt, method="POST", path=exc.path, reason=reason
                    )
                    attempt += 1
                    continue
            self.ledger.answered(doc_id, name, clock.monotonic())
            return doc_id

    def create_folder(self, name: str) -> str:
        """Create an empty root folder; after an ambiguous failure, reuse the one that got made."""
        path = f"{KB}/folder"

        def once() -> str:
            data = self._client.send_json("POST", path, {"name": name}, route=f"POST {path}")
            with reading("POST", path):
                return answer(data).text("id")

        return self._create_named(name, once)

    def _create_named(self, name: str, create: Callable[[], str]) -> str:
        """Run `create`; when its answer is lost, look for `name` (bounded) before trying again
        (folders: one per run, and the lease must find its own)."""
        attempt = 0
        while True:
            try:
                return create()
            except AmbiguousWriteError as exc:
                found = self.find_recent_by_name(name)
                if found:
                    return found[0].id
                if attempt >= self._client.max_retries:
                    raise exc.cause from None
                reason = f"HTTP {exc.status}" if exc.status else "connection lost"
                self._client.wait_before_retry(attempt, method="POST", path=exc.path, reason=reason)
                attempt += 1

    def rename(self, doc_id: str, name: str) -> None:
        """PATCH the document's name in place."""
        path = f"{KB}/{seg(doc_id)}"
        try:
            self._client.send_json(
                "PATCH", path, {"name": name}, route="PATCH /v1/convai/knowledge-base/{id}"
            )
        except NotFoundError as exc:
            raise doc_not_found(exc, doc_id) from None

    def delete(self, doc_id: str) -> DeleteOutcome:
        """DELETE without `force`: deleted, already gone, or refused because it is in use.

        A 403 is a permission problem (`PermissionDeniedError`), never "in use"."""
        path = f"{KB}/{seg(doc_id)}"
        try:
            self._client.send_json(
                "DELETE",
                path,
                retry_conflict=False,  # a 409 here is the answer "in use", not a hiccup
                route="DELETE /v1/convai/knowledge-base/{id}",
            )
        except NotFoundError:
            return DeleteOutcome.GONE
        except (AuthError, PermissionDeniedError, RateLimitedError):
            raise
        except ApiError as exc:
            if _refused_in_use(exc):
                return DeleteOutcome.IN_USE
            raise
        return DeleteOutcome.DELETED

    def _create_once(self, spec: DocumentSpec, name: str) -> str:
        match spec.doc_type:
            case DocType.TEXT:
                path = f"{KB}/text"
                body = {"text": spec.content.decode("utf-8"), "name": name}
                data = self._client.send_json("POST", path, body, route=f"POST {path}")
            case DocType.URL:
                path = f"{KB}/url"
                url = spec.url if spec.url is not None else spec.content.decode("utf-8")
                data = self._client.send_json(
                    "POST", path, {"url": url, "name": name}, route=f"POST {path}"
                )
            case DocType.FILE:
                path = f"{KB}/file"
                filename = spec.filename or spec.key.rsplit("/", 1)[-1]
                kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
                data = self._client.post_multipart(
                    path,
                    files={"file": FilePart(filename, spec.content, kind)},
                    fields={"name": name},
                    route=f"POST {path}",
                )
            case DocType.FOLDER:
                raise UsageError(f"kbctl does not create folders ({spec.key})")
        with reading("POST", path):
            return answer(data).text("id")


def _live(found: list[Listed]) -> tuple[LiveDocument, ...]:
    unique = {d.id: d for d in found}
    return tuple(
        LiveDocument(
            d.id, d.name, d.doc_type, d.size_bytes, parse_marker(d.name), d.created_at, d.updated_at
        )
        for d in sorted(unique.values(), key=lambda d: d.id)
    )


def _refused_in_use(exc: ApiError) -> bool:
    """Whether a failed delete is the API's "still in use" refusal (status UNCONFIRMED)."""
    if exc.status is None or not 400 <= exc.status < 500 or exc.status in (403, 422):
        return False
    if exc.status in IN_USE_STATUSES:
        return True
    said = " ".join(p for p in (exc.code, exc.summary) if p).lower()
    return any(word in said for word in _IN_USE_WORDS)
