"""What kbctl needs from a workspace, in model types (no wire dicts, no HTTP).

`ElevenLabsProvider` (in `kbctl.provider.elevenlabs`) and `OpenAIProvider` (in
`kbctl.provider.openai`, a vector store seen as an agent whose knowledge base is its attached
files) implement it over the real API or the emulator; planner and executor depend only on this
protocol (and on `InPlaceUpdates` and `StagedCreates`, where a provider offers them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from kbctl.chunking import Metadata
from kbctl.model import (
    DocType,
    DocumentSpec,
    IndexStatus,
    KbEntry,
    LiveAgent,
    LiveDocument,
    LiveState,
    RagQuota,
    RagSettings,
)
from kbctl.provider.ledger import CreateLedger


@dataclass(frozen=True, slots=True)
class IndexState:
    """The RAG index of one document for one embedding model."""

    status: IndexStatus
    progress: float = 0.0
    used_bytes: int = 0
    reported: str = ""  # the status as the API named it (kept for statuses newer than kbctl)
    index_id: str | None = None  # the RAG index's own id, when the API said it

    @property
    def status_name(self) -> str:
        """The status for people: the API's own word, unknown ones included."""
        return self.reported or self.status.value


@dataclass(frozen=True, slots=True)
class BranchRef:
    """A branch of an agent that references a document."""

    agent_id: str
    branch_id: str
    is_main: bool


@dataclass(frozen=True, slots=True)
class Dependents:
    """Agents (and branches) that use a document."""

    agent_ids: tuple[str, ...]
    branches: tuple[BranchRef, ...] = ()
    unknown_agents: int = 0  # agents the key cannot see

    def others(self, agent_id: str) -> bool:
        """True when anything but `agent_id`'s main branch depends on the document."""
        if self.unknown_agents or any(a != agent_id for a in self.agent_ids):
            return True
        return any(b.agent_id != agent_id or not b.is_main for b in self.branches)

    def describe(self, agent_id: str) -> tuple[str, ...]:
        """Who else uses the document, for a person: one item per agent, in the order the API
        named them (`agent_b`, `agent_b and its branch agtbrch_1`, `agent_a (branches agtbrch_2,
        agtbrch_3)` for branches other than `agent_id`'s main one), then unseen agents."""
        order = dict.fromkeys([*self.agent_ids, *(b.agent_id for b in self.branches)])
        mains = {b.agent_id for b in self.branches if b.is_main}
        side: dict[str, dict[str, None]] = {}
        for b in self.branches:
            if not b.is_main:
                side.setdefault(b.agent_id, {})[b.branch_id] = None
        names = []
        for agent in order:
            branches = tuple(side.get(agent, ()))
            main = agent != agent_id and (agent in mains or not branches)
            if main or branches:
                names.append(_agent_use(agent, main, branches))
        if self.unknown_agents:
            names.append(f"{self.unknown_agents} agent(s) this API key cannot see")
        return tuple(names)


def _agent_use(agent_id: str, main: bool, branches: tuple[str, ...]) -> str:
    """One agent's use of a document, naming the agent once however many branches use it."""
    if not branches:
        return agent_id
    listed = ("branch " if len(branches) == 1 else "branches ") + ", ".join(branches)
    return f"{agent_id} and its {listed}" if main else f"{agent_id} ({listed})"


class DeleteOutcome(StrEnum):
    """What happened to a delete request (kbctl never sends `force`)."""

    DELETED = "deleted"
    GONE = "gone"  # it was not there any more
    IN_USE = "in_use"  # refused: something still uses it
    NOT_OURS = "not_ours"  # detached only: kbctl did not upload it (OpenAI Files), so it stays


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result of the knowledge-base content search."""

    document_id: str
    name: str
    score: float
    snippet: str = ""  # the `search_snippet` parts joined (the text around the hit)


@dataclass(frozen=True, slots=True)
class RagChunk:
    """One chunk the agent's own retrieval (rag-query) returns, best first in its answer."""

    document_id: str
    document_name: str
    chunk_id: str
    text: str
    vector_distance: float | None = None


@dataclass(frozen=True, slots=True)
class BranchInfo:
    """One branch of an agent, as the branch listing shows it."""

    id: str
    name: str
    description: str
    is_archived: bool = False
    live_percentage: float = 0.0  # share of the agent's traffic it answers now


class AgentBranchesApi(Protocol):
    """An agent's own retrieval, branches and traffic split (`AgentBranches` implements it)."""

    def rag_query(
        self, agent_id: str, query: str, *, branch_id: str | None = None
    ) -> tuple[RagChunk, ...]:
        """The chunks the agent (or one of its branches) would retrieve, best first."""
        ...

    def branches(self, agent_id: str, *, include_archived: bool = False) -> tuple[BranchInfo, ...]:
        """The agent's branches (main included), with their share of the traffic."""
        ...

    def get_agent(self, agent_id: str, branch_id: str) -> LiveAgent:
        """The head of one branch, read as an agent."""
        ...

    def create_branch(
        self,
        agent_id: str,
        *,
        parent_version_id: str,
        name: str,
        description: str,
        knowledge_base: Sequence[KbEntry],
        rag: RagSettings | None,
    ) -> str:
        """A branch from a version, carrying this `knowledge_base` and RAG fields; its id."""
        ...

    def archive_branch(self, agent_id: str, branch_id: str) -> None:
        """Archive a branch."""
        ...

    def merge(self, agent_id: str, branch_id: str, into_branch_id: str) -> LiveAgent:
        """Merge a branch into another, archiving it; the target's new head."""
        ...

    def deploy(self, agent_id: str, split: Mapping[str, float]) -> dict[str, float]:
        """Set the traffic split (branch id → percentage); the split now live."""
        ...


class Provider(Protocol):
    """A workspace kbctl can read and change."""

    def read_state(
        self,
        agent_id: str,
        project: str,
        environment: str,
        *,
        with_quota: bool = True,
        on_agent: Callable[[LiveAgent], None] | None = None,
    ) -> LiveState:
        """The agent, every document it has attached, and every document carrying this
        project+environment's marker (full pagination; the name `search` can miss documents).

        `on_agent`, if the provider calls it, gets the agent as soon as it is read, while the
        documents are still being listed: a caller starts there the reads that need only the
        agent. It must return at once (submit work elsewhere)."""
        ...

    def get_agent(self, agent_id: str) -> LiveAgent:
        """Read the agent alone."""
        ...

    def version_description(self, agent_id: str, version_id: str) -> str | None:
        """The description an agent version was committed with (who wrote it), if any."""
        ...

    def create_document(self, spec: DocumentSpec, name: str) -> str:
        """Create a document; returns its id. After a timeout or a 5xx on create (the write may
        have happened) either it looks for a document with `name` first, or (`LedgeredCreates`)
        it tries again and records the lost answer, leaving an extra copy for apply to find."""
        ...

    def find_documents_by_name(self, name: str) -> tuple[LiveDocument, ...]:
        """Every document named exactly `name` (full pagination)."""
        ...

    def documents_named(
        self, prefix: str, *, doc_type: DocType | None = None
    ) -> tuple[LiveDocument, ...]:
        """Every document whose name starts with `prefix`, from the full listing (never the
        name `search`, which can miss documents): what apply's lease must not miss. With
        `doc_type`, only the listing of that type (`types=`), so a lease folder is found in
        pages of folders, not of the whole workspace."""
        ...

    def create_folder(self, name: str) -> str:
        """Create an empty folder at the root of the knowledge base; returns its id."""
        ...

    def rename_document(self, doc_id: str, name: str) -> None:
        """Change a document's name in place."""
        ...

    def request_index(self, doc_id: str, model: str) -> IndexState:
        """Start (or get) the RAG index of a document for `model` (idempotent)."""
        ...

    def index_states(self, doc_ids: Iterable[str], model: str) -> dict[str, IndexState]:
        """Many documents' indexes for `model` (NOT_INDEXED where there is none), keyed by id;
        batched (≤ 100 per request) where the API can, nothing is created."""
        ...

    def request_indexes(self, doc_ids: Iterable[str], model: str) -> dict[str, IndexState]:
        """Start (or get) many documents' indexes for `model`, batched like `index_states`."""
        ...

    def index_state(self, doc_id: str, model: str) -> IndexState:
        """The current index for `model` (status NOT_INDEXED when there is none)."""
        ...

    def delete_index(self, doc_id: str, index_id: str) -> None:
        """Delete one RAG index of a document (gone already is fine)."""
        ...

    def update_agent(
        self,
        agent_id: str,
        knowledge_base: Sequence[KbEntry],
        rag: RagSettings | None,
        description: str,
    ) -> LiveAgent:
        """One PATCH: the complete `knowledge_base` array and the managed RAG fields."""
        ...

    def dependents(self, doc_id: str) -> Dependents:
        """Agents and branches that use a document (all pages)."""
        ...

    def delete_document(self, doc_id: str) -> DeleteOutcome:
        """Delete without `force`."""
        ...

    def document_content(self, doc_id: str) -> bytes:
        """The document's content as the API returns it (raw text)."""
        ...

    def quota(self) -> RagQuota:
        """The workspace RAG usage overview."""
        ...

    def search(self, query: str, limit: int) -> tuple[SearchHit, ...]:
        """Knowledge-base content search, best first."""
        ...


@runtime_checkable
class RecentDocuments(Protocol):
    """A provider that lists the documents created lately (newest first), without the whole
    listing: how an apply finds a twin another run of the project just uploaded."""

    def recent_documents(
        self, since: float, *, limit: int | None = None
    ) -> tuple[LiveDocument, ...]:
        """Documents created at `since` (unix seconds) or later (at most `limit` pages)."""
        ...


@runtime_checkable
class LedgeredCreates(Protocol):
    """A provider that retries a create whose answer was lost instead of looking for it, and
    records it in `create_ledger`: apply finds the copies that landed once per run
    (`kbctl.apply.extras`) with the two reads below, whichever costs fewer requests."""

    @property
    def create_ledger(self) -> CreateLedger:
        """The lost and answered creates since apply last took them."""
        ...

    def newest_document_pages(self) -> Iterator[tuple[LiveDocument, ...]]:
        """The listing newest first, a page of 100 at a time, for as long as the caller reads."""
        ...

    def newest_named_documents(self, name: str) -> tuple[LiveDocument, ...]:
        """Documents named exactly `name` among the newest (one request; may miss some)."""
        ...


@runtime_checkable
class InPlaceUpdates(Protocol):
    """A provider whose documents carry the user's metadata (OpenAI attributes): apply writes a
    name (marker) and metadata change in place, without uploading or indexing again."""

    def update_document(self, doc_id: str, name: str, metadata: Metadata) -> None:
        """Write the document's marker (from `name`) and the user's metadata, whole."""
        ...


@runtime_checkable
class StagedCreates(Protocol):
    """A provider that uploads documents first and attaches many at once (OpenAI file batches):
    apply uploads each new document (`concurrency` at a time), then attaches them all, each
    with its own settings, in as few requests as the API allows, instead of one create each."""

    def upload_document(self, spec: DocumentSpec, name: str) -> str:
        """Upload the content, not yet attached (found by `name` later if nothing attaches
        it); its id. Never a duplicate on an ambiguous failure."""
        ...

    def attach_documents(
        self, uploads: Sequence[tuple[str, DocumentSpec, str]]
    ) -> dict[str, IndexState]:
        """Attach uploaded documents `(id, spec, name)`; each one's state, by id."""
        ...
