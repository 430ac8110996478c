"""`ElevenLabsProvider`: the `Provider` protocol over the ElevenLabs KB and agent endpoints.

Owns `read_state` (which documents concern a target) and hands every other call to the noun
that owns its endpoints: `Documents`, `Agents`, `Indexes`. All HTTP goes through one `ApiClient`
(retries, errors, redaction live there); wire dicts never leave `kbctl.provider`. It must not
decide anything the planner or executor decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from kbctl.errors import UsageError
from kbctl.identity import owned_name
from kbctl.model import (
    DocType,
    DocumentSpec,
    KbEntry,
    LiveAgent,
    LiveDocument,
    LiveState,
    Marker,
    RagQuota,
    RagSettings,
)
from kbctl.provider.base import (
    DeleteOutcome,
    Dependents,
    IndexState,
    LedgeredCreates,
    Provider,
    SearchHit,
)
from kbctl.provider.elevenlabs.agents import Agents
from kbctl.provider.elevenlabs.documents import Documents
from kbctl.provider.elevenlabs.indexes import Indexes
from kbctl.provider.elevenlabs.shapes import MAX_PAGE_SIZE
from kbctl.provider.http import ApiClient
from kbctl.provider.ledger import CreateLedger


class ElevenLabsProvider:
    """The ElevenLabs API (or the emulator) as a `kbctl.provider.base.Provider`."""

    def __init__(self, client: ApiClient, *, page_size: int = MAX_PAGE_SIZE) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise UsageError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self._client = client
        self.documents = Documents(client, page_size)
        self.agents = Agents(client)
        self.indexes = Indexes(client)

    def read_state(
        self,
        agent_id: str,
        project: str,
        environment: str,
        *,
        with_quota: bool = True,
        on_agent: Callable[[LiveAgent], None] | None = None,
    ) -> LiveState:
        """1 agent read + the list pages + 1 quota read (when `with_quota`), nothing more: the
        agent, the documents attached to it, and every document of the project (shared by its
        environments: `kbctl.identity.owned`). The agent is read first (`on_agent` is called
        with it), then the quota is read while the listing's pages are (a listing is sequential:
        each page names the next).

        A listing the API cut short (more pages announced, no cursor) is read as far as it goes
        and said in `LiveState.warnings`."""
        agent = self.agents.get(agent_id)
        if on_agent is not None:
            on_agent(agent)
        warnings: list[str] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kbctl-quota") as pool:
            quota_read = pool.submit(self.indexes.quota) if with_quota else None
            listed = self.documents.listing(warnings=warnings)
            quota = quota_read.result() if quota_read is not None else None

        def ours(name: str) -> Marker | None:
            # The environments of a project share its documents in a workspace.
            return owned_name(name, project, environment, shared=True)

        attached = {entry.id for entry in agent.knowledge_base}
        docs: dict[str, LiveDocument] = {}
        for item in listed:
            marker = ours(item.name)
            if marker is not None or item.id in attached:
                docs[item.id] = LiveDocument(
                    item.id,
                    item.name,
                    item.doc_type,
                    item.size_bytes,
                    marker,
                    item.created_at,
                    item.updated_at,
                )
        for entry in agent.knowledge_base:
            if entry.id not in docs:  # not in the root listing (e.g. a folder or in a folder)
                docs[entry.id] = LiveDocument(
                    entry.id, entry.name, entry.doc_type, 0, ours(entry.name)
                )
        documents = tuple(sorted(docs.values(), key=lambda d: d.id))
        return LiveState(agent=agent, documents=documents, quota=quota, warnings=tuple(warnings))

    # ---------------------------------------------------------------------------------------
    # Agents

    def get_agent(self, agent_id: str) -> LiveAgent:
        """Read the agent alone (one GET)."""
        return self.agents.get(agent_id)

    def version_description(self, agent_id: str, version_id: str) -> str | None:
        """The description an agent version was committed with, if any."""
        return self.agents.version_description(agent_id, version_id)

    def update_agent(
        self,
        agent_id: str,
        knowledge_base: Sequence[KbEntry],
        rag: RagSettings | None,
        description: str,
    ) -> LiveAgent:
        """One PATCH with the complete `knowledge_base` array and the managed RAG fields."""
        return self.agents.update(agent_id, knowledge_base, rag, description)

    # ---------------------------------------------------------------------------------------
    # Documents

    def find_documents_by_name(self, name: str) -> tuple[LiveDocument, ...]:
        """Every document named exactly `name` (name search, then the full listing)."""
        return self.documents.find_by_name(name)

    def find_recent_documents_by_name(self, name: str) -> tuple[LiveDocument, ...]:
        """Documents named exactly `name` among the newest (at most two requests)."""
        return self.documents.find_recent_by_name(name)

    def documents_named(
        self, prefix: str, *, doc_type: DocType | None = None
    ) -> tuple[LiveDocument, ...]:
        """Every document whose name starts with `prefix` (the full listing, or that of one
        type, never `search`)."""
        return self.documents.named(prefix, doc_type=doc_type)

    def recent_documents(
        self, since: float, *, limit: int | None = None
    ) -> tuple[LiveDocument, ...]:
        """Documents created at `since` (unix seconds) or later, newest first, page by page
        (at most `limit` pages of 100)."""
        return self.documents.recent(since, limit=limit)

    def document_url(self, doc_id: str) -> str | None:
        """The source URL of a URL document (None for other types), from its detail."""
        return self.documents.url(doc_id)

    def document_content(self, doc_id: str) -> bytes:
        """The content as the API returns it (raw text, not JSON), e.g. to hash live content."""
        return self.documents.content(doc_id)

    def dependents(self, doc_id: str) -> Dependents:
        """Agents and branches that use the document (every page)."""
        return self.documents.dependents(doc_id)

    def search(self, query: str, limit: int) -> tuple[SearchHit, ...]:
        """Knowledge-base content search, best first, at most `limit` hits."""
        return self.documents.search(query, limit)

    def create_document(self, spec: DocumentSpec, name: str) -> str:
        """Create the document; a lost answer is retried and recorded in `create_ledger`
        (apply deletes the copies that landed, once per run)."""
        return self.documents.create(spec, name)

    @property
    def create_ledger(self) -> CreateLedger:
        """The lost and answered creates since apply last took them."""
        return self.documents.ledger

    def newest_document_pages(self) -> Iterator[tuple[LiveDocument, ...]]:
        """The listing newest first, a page of 100 at a time, for as long as the caller reads."""
        return self.documents.newest_pages()

    def newest_named_documents(self, name: str) -> tuple[LiveDocument, ...]:
        """Documents named exactly `name` among the newest (one request; may miss some)."""
        return self.documents.newest_named(name)

    def create_folder(self, name: str) -> str:
        """Create an empty root folder (a lost answer: looked for with two bounded queries)."""
        return self.documents.create_folder(name)

    def rename_document(self, doc_id: str, name: str) -> None:
        """PATCH the document's name in place."""
        self.documents.rename(doc_id, name)

    def delete_document(self, doc_id: str) -> DeleteOutcome:
        """DELETE without `force`: deleted, already gone, or refused because it is in use."""
        return self.documents.delete(doc_id)

    # ---------------------------------------------------------------------------------------
    # Indexes

    def index_state(self, doc_id: str, model: str) -> IndexState:
        """The document's index for `model`, or NOT_INDEXED."""
        return self.indexes.state(doc_id, model)

    def index_states(self, doc_ids: Iterable[str], model: str) -> dict[str, IndexState]:
        """Many documents' indexes for `model` in ⌈N/100⌉ batch requests (nothing created;
        one GET per document where the batch endpoint is absent)."""
        return self.indexes.states(doc_ids, model)

    def delete_index(self, doc_id: str, index_id: str) -> None:
        """Delete one RAG index (a failed one, before asking for it anew)."""
        self.indexes.delete(doc_id, index_id)

    def request_index(self, doc_id: str, model: str) -> IndexState:
        """Start (or get) the index for `model`: the endpoint is get-or-create, so retried."""
        return self.indexes.request(doc_id, model)

    def request_indexes(self, doc_ids: Iterable[str], model: str) -> dict[str, IndexState]:
        """Start (or get) many documents' indexes for `model` in ⌈N/100⌉ batch requests."""
        return self.indexes.request_many(doc_ids, model)

    def quota(self) -> RagQuota:
        """The workspace RAG usage overview (`max_bytes` None when the API does not say)."""
        return self.indexes.quota()


def _conforms(provider: ElevenLabsProvider) -> tuple[Provider, LedgeredCreates]:
    """Never called: makes mypy check that `ElevenLabsProvider` implements the protocols."""
    return provider, provider
