"""How checks retrieve documents: the `Retriever` seam and its one implementation today.

`SearchRetriever` uses the knowledge-base content search (`GET /v1/convai/knowledge-base/search`,
reference §4.6). That endpoint searches the whole workspace and is text search, not the agent's
vector retrieval, so the results are restricted to the agent's documents here, on the client
side, keeping the API's order. When ElevenLabs offers a retrieval endpoint scoped to an agent
(or its RAG chunks), a new `Retriever` replaces this one; the runner and the apply gate do not
change.

Must not decide pass or fail (that is `kbctl.checks.runner`'s), nor know about keys.
"""

from __future__ import annotations

from typing import Protocol

from kbctl.provider.base import SearchHit

#: Results asked for on the first search: one page of the API (its maximum page size).
FIRST_LIMIT = 100
#: The most results one retrieval reads; past this, a document counts as not retrieved.
MAX_RESULTS = 3200


class Retriever(Protocol):
    """Ranks documents for a query."""

    def retrieve(self, query: str, allowed_ids: frozenset[str], top_k: int) -> tuple[str, ...]:
        """At most `top_k` document ids, best first, all of them in `allowed_ids`."""
        ...


class Searcher(Protocol):
    """The part of `kbctl.provider.base.Provider` a `SearchRetriever` needs."""

    def search(self, query: str, limit: int) -> tuple[SearchHit, ...]:
        """Knowledge-base content search, best first, at most `limit` hits."""
        ...


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

    def retrieve(self, query: str, allowed_ids: frozenset[str], top_k: int) -> tuple[str, ...]:
        """The best `top_k` of `allowed_ids` for `query` (no call when nothing is allowed)."""
        if top_k < 1 or not allowed_ids:
            return ()
        limit = min(max(self._first_limit, top_k), self._max_results)
        while True:
            hits = self._search.search(query, limit)
            ranked = [
                doc_id
                for doc_id in dict.fromkeys(h.document_id for h in hits)
                if doc_id in allowed_ids
            ]
            if len(ranked) >= top_k or len(hits) < limit or limit >= self._max_results:
                return tuple(ranked[:top_k])
            limit = min(limit * 4, self._max_results)
