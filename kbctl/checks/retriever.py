"""How checks retrieve documents: the `Retriever` seam and its implementations.

- `RagQueryRetriever` asks the agent's own retrieval (`POST …/agents/{id}/knowledge-base/
  rag-query`, reference §16.1) with the agent's defaults, optionally on a branch. It answers
  ranked chunks; a document's rank is the rank of its best chunk, and its chunks' texts come
  along for `expect_text`.
- `SearchRetriever` uses the knowledge-base content search (`GET /v1/convai/knowledge-base/
  search`, §4.6): workspace-wide text search, restricted to the agent's documents here, on the
  client side, keeping the API's order; its texts are the search snippets.
- `AutoRetriever` is rag-query, falling back to the search (with a note) when the endpoint
  answers 404 or 405; `ChosenRagQueryRetriever` (an explicit choice) makes that an error.

Must not decide pass or fail (that is `kbctl.checks.runner`'s), nor know about keys.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from kbctl.chunking import Metadata
from kbctl.errors import ApiError, UsageError
from kbctl.provider.base import RagChunk, SearchHit

#: Results asked for on the first search: one page of the API (its maximum page size).
FIRST_LIMIT = 100
#: The most results one retrieval reads; past this, a document counts as not retrieved.
MAX_RESULTS = 3200


#: Statuses that mean "this deployment has no rag-query endpoint" (reference §16.1).
NO_ENDPOINT = frozenset({404, 405})


class RetrieverChoice(StrEnum):
    """`kbctl check --retriever`: which retrieval produces the numbers."""

    AUTO = "auto"  # rag-query, else the content search (with a note)
    RAG_QUERY = "rag-query"
    SEARCH = "search"


@dataclass(frozen=True, slots=True)
class Retrieved:
    """One document a retrieval returned, with the texts (chunks or snippets) it came with."""

    document_id: str
    texts: tuple[str, ...] = ()


class Retriever(Protocol):
    """Ranks documents for a query."""

    @property
    def name(self) -> str:
        """Which retrieval produced the results: `rag-query` or `search`."""
        ...

    @property
    def note(self) -> str | None:
        """Something the report must say about the retrieval (a fallback), or None."""
        ...

    def retrieve(
        self, query: str, allowed_ids: frozenset[str], top_k: int
    ) -> tuple[Retrieved, ...]:
        """At most `top_k` documents, best first, all of them in `allowed_ids`."""
        ...


class Searcher(Protocol):
    """The part of `kbctl.provider.base.Provider` a `SearchRetriever` needs."""

    def search(self, query: str, limit: int) -> tuple[SearchHit, ...]:
        """Knowledge-base content search, best first, at most `limit` hits."""
        ...


@runtime_checkable
class FilteredSearcher(Protocol):
    """A search that takes an attribute filter (an OpenAI vector store's)."""

    def search_filtered(
        self, query: str, limit: int, filters: dict[str, object] | None
    ) -> tuple[SearchHit, ...]:
        """The search, best first, only among files whose attributes pass `filters`."""
        ...


def filter_object(filters: Metadata) -> dict[str, object] | None:
    """A check's `filters:` as the search API's filter: each key equal, all of them."""
    parts: list[dict[str, object]] = [
        {"type": "eq", "key": key, "value": value} for key, value in filters
    ]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"type": "and", "filters": parts}


class SearchRetriever:
    """Content search over the whole workspace, filtered to `allowed_ids`.

    The workspace may hold many more documents than the agent (other agents', superseded
    versions waiting for deletion), so one page can hold fewer than `top_k` of the agent's: the
    search is then asked again for four times as many results, until `top_k` allowed ids are
    found, the results run out, or `max_results` is reached.
    """

    def __init__(
        self, search: Searcher, *, first_limit: int = FIRST_LIMIT, max_results: int = MAX_RESULTS
    ) -> None:
        self._search = search
        self._first_limit = max(1, first_limit)
        self._max_results = max(self._first_limit, max_results)

    name = RetrieverChoice.SEARCH.value
    note: str | None = None

    def retrieve(
        self, query: str, allowed_ids: frozenset[str], top_k: int, filters: Metadata = ()
    ) -> tuple[Retrieved, ...]:
        """The best `top_k` of `allowed_ids` for `query` (no call when nothing is allowed);
        with `filters`, only among files with those attributes (where the search takes them)."""
        if top_k < 1 or not allowed_ids:
            return ()
        limit = min(max(self._first_limit, top_k), self._max_results)
        search = self._search
        where = filter_object(filters)
        while True:
            if where is not None and isinstance(search, FilteredSearcher):
                hits = search.search_filtered(query, limit, where)
            else:
                hits = search.search(query, limit)
            ranked = _grouped(((h.document_id, h.snippet) for h in hits), allowed_ids)
            if len(ranked) >= top_k or len(hits) < limit or limit >= self._max_results:
                return tuple(ranked[:top_k])
            limit = min(limit * 4, self._max_results)


class RagQuerier(Protocol):
    """What a `RagQueryRetriever` needs (`kbctl.provider.elevenlabs.branches.AgentBranches`)."""

    def rag_query(
        self, agent_id: str, query: str, *, branch_id: str | None = None
    ) -> tuple[RagChunk, ...]:
        """The chunks the agent (or one of its branches) would retrieve, best first."""
        ...


class RagQueryRetriever:
    """The agent's own retrieval: a document ranks where its best chunk does."""

    name = RetrieverChoice.RAG_QUERY.value
    note: str | None = None

    def __init__(self, api: RagQuerier, agent_id: str, *, branch_id: str | None = None) -> None:
        self._api = api
        self._agent_id = agent_id
        self._branch_id = branch_id

    def retrieve(
        self, query: str, allowed_ids: frozenset[str], top_k: int
    ) -> tuple[Retrieved, ...]:
        """The best `top_k` of `allowed_ids` among the chunks the agent retrieves."""
        if top_k < 1 or not allowed_ids:
            return ()
        chunks = self._api.rag_query(self._agent_id, query, branch_id=self._branch_id)
        return tuple(_grouped(((c.document_id, c.text) for c in chunks), allowed_ids)[:top_k])


class AutoRetriever:
    """rag-query; when the endpoint answers 404/405, the content search from then on."""

    def __init__(self, rag_query: RagQueryRetriever, search: SearchRetriever) -> None:
        self._rag_query = rag_query
        self._search = search
        self._fell_back: str | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """`rag-query`, or `search` once it fell back."""
        return self._search.name if self._fell_back is not None else self._rag_query.name

    @property
    def note(self) -> str | None:
        """Why the numbers come from the content search, after a fallback."""
        if self._fell_back is None:
            return None
        return (
            f"rag-query is not available here ({self._fell_back}); the numbers come from the "
            "knowledge-base content search instead, which is text search, not the agent's "
            "retrieval"
        )

    def retrieve(
        self, query: str, allowed_ids: frozenset[str], top_k: int
    ) -> tuple[Retrieved, ...]:
        """Ask rag-query unless it already proved missing; fall back on 404/405."""
        if self._fell_back is None:
            try:
                return self._rag_query.retrieve(query, allowed_ids, top_k)
            except ApiError as err:
                if err.status not in NO_ENDPOINT:
                    raise
                with self._lock:
                    self._fell_back = f"HTTP {err.status}"
        return self._search.retrieve(query, allowed_ids, top_k)


class ChosenRagQueryRetriever:
    """`--retriever rag-query`: rag-query only. A missing endpoint (404/405) is an error that
    says which retriever works instead, not a bare "Not found"."""

    name = RetrieverChoice.RAG_QUERY.value
    note: str | None = None

    def __init__(self, rag_query: RagQueryRetriever) -> None:
        self._rag_query = rag_query

    def retrieve(
        self, query: str, allowed_ids: frozenset[str], top_k: int
    ) -> tuple[Retrieved, ...]:
        """The agent's retrieval, or `UsageError` when this API has no rag-query."""
        try:
            return self._rag_query.retrieve(query, allowed_ids, top_k)
        except ApiError as err:
            if err.status not in NO_ENDPOINT:
                raise
            raise UsageError(
                f"rag-query is not available here (HTTP {err.status})",
                detail=err.detail,
                hint="Use --retriever search, or --retriever auto to fall back to the "
                "knowledge-base content search with a note.",
            ) from err


def make_retriever(
    choice: RetrieverChoice,
    search: Searcher,
    rag_query: RagQueryRetriever,
) -> Retriever:
    """The retriever for a `--retriever` choice (`rag_query`: the agent's, or a branch's)."""
    match choice:
        case RetrieverChoice.SEARCH:
            return SearchRetriever(search)
        case RetrieverChoice.RAG_QUERY:
            return ChosenRagQueryRetriever(rag_query)
        case RetrieverChoice.AUTO:
            return AutoRetriever(rag_query, SearchRetriever(search))


def _grouped(pairs: Iterable[tuple[str, str]], allowed_ids: frozenset[str]) -> list[Retrieved]:
    """Documents in order of their first (best) appearance, each with all its texts."""
    order: dict[str, list[str]] = {}
    for doc_id, text in pairs:
        if doc_id in allowed_ids:
            order.setdefault(doc_id, [])
            if text:
                order[doc_id].append(text)
    return [Retrieved(doc_id, tuple(texts)) for doc_id, texts in order.items()]
