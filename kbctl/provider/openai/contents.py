"""What an OpenAI store gives back besides its listings: a file's content, the store's usage,
its search.

Owns `StoreReads`, that part of `OpenAIProvider` (the `Provider` methods `document_content`,
`quota`, `search`, and `search_filtered` for checks with attribute filters). Must not decide
anything.
"""

from __future__ import annotations

from kbctl.model import RagQuota
from kbctl.provider.base import SearchHit
from kbctl.provider.openai.api import OpenAIApi


class StoreReads:
    """Content, usage and search of the store over `self.api` (none before it exists)."""

    api: OpenAIApi

    def store_id(self, *, create: bool = False) -> str | None:
        raise NotImplementedError  # the provider's

    def document_content(self, doc_id: str) -> bytes:
        """The File's bytes, or the text the store parsed from it (see `OpenAIApi.readable`)."""
        return self.api.readable(self.store_id(), doc_id)

    def quota(self) -> RagQuota:
        """The store's usage (vector stores have no fixed limit kbctl can read)."""
        store_id = self.store_id()
        used = self.api.store(store_id).usage_bytes if store_id is not None else 0
        return RagQuota(used_bytes=used, max_bytes=None)

    def search(self, query: str, limit: int) -> tuple[SearchHit, ...]:
        """The store's vector search, best first (none before the store exists)."""
        return self.search_filtered(query, limit, None)

    def search_filtered(
        self, query: str, limit: int, filters: dict[str, object] | None
    ) -> tuple[SearchHit, ...]:
        """The store's vector search with an attribute filter (the API's filter object)."""
        store_id = self.store_id()
        if store_id is None:
            return ()
        hits = self.api.search(store_id, query, limit, filters)
        return tuple(SearchHit(h.file_id, h.filename, h.score) for h in hits)
