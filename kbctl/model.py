"""Core value types: what the manifest wants (specs) and what the API has (live records).

Pure data: no I/O, no clock, no HTTP shapes. Everything is frozen; collections are tuples.
The content hash and the ownership marker live in `kbctl.identity`.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field, fields
from enum import StrEnum

from kbctl.chunking import Chunking, Metadata
from kbctl.sharing import SharedUse

#: Documents smaller than this cannot be RAG-indexed (`document_too_small`).
MIN_INDEX_BYTES = 500


class DocType(StrEnum):
    """ElevenLabs document types."""

    TEXT = "text"
    URL = "url"
    FILE = "file"
    FOLDER = "folder"


class UsageMode(StrEnum):
    """How the agent uses a document: retrieved when relevant (auto) or always in the prompt."""

    AUTO = "auto"
    PROMPT = "prompt"


class SmallDocumentPolicy(StrEnum):
    """What to do with a document under `MIN_INDEX_BYTES` declared `auto`."""

    PROMPT = "prompt"  # attach it with usage_mode prompt (no index needed)
    FAIL = "fail"  # stop apply at the index gate
    SKIP = "skip"  # leave it out, with a warning


class IndexStatus(StrEnum):
    """RAG index statuses of the API, plus UNKNOWN for values newer than kbctl."""

    NEW = "new"
    CREATED = "created"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RAG_LIMIT_EXCEEDED = "rag_limit_exceeded"
    DOCUMENT_TOO_SMALL = "document_too_small"
    CANNOT_INDEX_FOLDER = "cannot_index_folder"
    NOT_INDEXED = "not_indexed"  # kbctl's own: no index exists for the model
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> IndexStatus:
        """Read an API status, tolerating values this version does not know."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.UNKNOWN

    @property
    def in_flight(self) -> bool:
        """Still moving (worth polling). A status newer than kbctl counts as still moving: the
        enum is open and has grown with in-flight values before (`new`); the index timeout, not
        the unfamiliar name, decides when to give up."""
        return self in (
            IndexStatus.NEW,
            IndexStatus.CREATED,
            IndexStatus.PROCESSING,
            IndexStatus.UNKNOWN,
        )

    @property
    def needs_reindex(self) -> bool:
        """An attached `auto` document in this state is not (and will not become) searchable
        without a new index request: none exists, or the last attempt ended badly. Small
        documents are the small-document policy's business, not a re-index."""
        return self in (
            IndexStatus.NOT_INDEXED,
            IndexStatus.FAILED,
            IndexStatus.RAG_LIMIT_EXCEEDED,
            IndexStatus.CANNOT_INDEX_FOLDER,
        )


class ProviderKind(StrEnum):
    """Which API keeps a target's documents: an ElevenLabs agent or an OpenAI vector store."""

    ELEVENLABS = "elevenlabs"
    OPENAI = "openai"


# --------------------------------------------------------------------------------------------
# Desired state (from manifests)


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where something was declared: manifest file (as given), line, path in the document."""

    file: str
    line: int | None
    path: str


@dataclass(frozen=True, slots=True)
class DocumentSpec:
    """One document a manifest declares, with its canonical content.

    `content` is the canonical bytes that are hashed and uploaded: for text, UTF-8 with LF line
    ends and no BOM; for files, the raw bytes; for URLs, the URL itself.
    """

    key: str
    doc_type: DocType
    usage_mode: UsageMode
    content: bytes = field(repr=False)
    content_hash: str
    filename: str | None = None
    url: str | None = None
    origin: SourceRef | None = field(default=None, compare=False)
    #: OpenAI only: the user's attributes (manifest `metadata:` and sidecar), sorted by key.
    #: A change of metadata alone is an in-place update, not a replace.
    metadata: Metadata = ()
    #: OpenAI only: the chunking strategy (None on ElevenLabs). A change means re-attaching.
    chunking: Chunking | None = None
    #: False for a stand-in whose bytes are not the document's (a rollback keeping a live file
    #: it could not capture): matched by its hash only, never compared with live content.
    content_known: bool = True

    @property
    def size_bytes(self) -> int:
        """Size the API will report for this document (unknown for URLs: 0)."""
        return 0 if self.doc_type is DocType.URL else len(self.content)


@dataclass(frozen=True, slots=True)
class RagSettings:
    """The agent's RAG settings. `None` means "not managed" (desired) or "absent" (live)."""

    enabled: bool | None = None
    embedding_model: str | None = None
    max_vector_distance: float | None = None
    max_documents_length: int | None = None
    max_retrieved_rag_chunks_count: int | None = None
    num_candidates: int | None = None

    def items(self) -> tuple[tuple[str, bool | int | float | str], ...]:
        """The set fields, in declaration order."""
        out: list[tuple[str, bool | int | float | str]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out.append((f.name, value))
        return tuple(out)


#: API defaults of the agent's RAG config (reference §10.1), used when the live agent omits one.
RAG_DEFAULTS = RagSettings(
    enabled=False,
    embedding_model="e5_mistral_7b_instruct",
    max_vector_distance=0.6,
    max_documents_length=50000,
    max_retrieved_rag_chunks_count=20,
)


@dataclass(frozen=True, slots=True)
class Policy:
    """Safety policy of an environment."""

    index_timeout: float = 180.0
    small_documents: SmallDocumentPolicy = SmallDocumentPolicy.PROMPT
    max_deletes: int = 10
    #: Seconds apply keeps retrying the delete of a superseded document the API still calls
    #: in use (its dependency cache lags behind the agent's new array).
    delete_wait: float = 60.0


@dataclass(frozen=True, slots=True)
class Check:
    """A retrieval check: `query` must retrieve every key of `expect` within `top_k` (and, with
    `expect_text`, a retrieved chunk of an expected document must contain that text)."""

    query: str
    expect: tuple[str, ...]
    top_k: int = 3
    expect_text: str | None = None
    #: OpenAI: attributes every retrieved file must have (`filters: {dept: sales}`: each key
    #: equal, all of them), applied by the store's search.
    filters: Metadata = ()


@dataclass(frozen=True, slots=True)
class ChecksPolicy:
    """How retrieval checks gate an apply."""

    min_coverage: float = 1.0
    on_failure: str = "abort"  # "abort" | "warn"
    #: Share of checks whose first document must be expected (None: Coverage@1 not gated).
    min_coverage_at_1: float | None = None


class RolloutStrategy(StrEnum):
    """How apply switches the agent to new documents."""

    DIRECT = "direct"  # one PATCH of main (DESIGN §5)
    BRANCH = "branch"  # staged on an agent branch, checked there, then merged (or canaried)


@dataclass(frozen=True, slots=True)
class Rollout:
    """An environment's `rollout`: `direct`, `branch`, or a branch canary at a traffic share."""

    strategy: RolloutStrategy = RolloutStrategy.DIRECT
    canary_percent: int | None = None  # branch only: deploy at this share instead of merging

    @property
    def staged(self) -> bool:
        """True when apply stages the change on a branch."""
        return self.strategy is RolloutStrategy.BRANCH


@dataclass(frozen=True, slots=True)
class Target:
    """One manifest resolved for one environment: everything a plan needs from the desired side."""

    manifest: str  # path of the manifest, as given
    project: str
    environment: str
    agent_id: str
    base_url: str
    api_key_env: str
    protect: bool
    rag: RagSettings
    policy: Policy
    documents: tuple[DocumentSpec, ...]
    checks: tuple[Check, ...] = ()
    checks_policy: ChecksPolicy = ChecksPolicy()
    provider: ProviderKind = ProviderKind.ELEVENLABS
    #: OpenAI: the store, by id or by name (exactly one is set). For OpenAI targets `agent_id`
    #: repeats the id (or the name) so that code keyed on it keeps a stable identity.
    vector_store_id: str | None = None
    vector_store_name: str | None = None
    rollout: Rollout = field(default_factory=Rollout)
    #: The variable holding a Slack-compatible webhook URL for failure notices (`notify:`).
    notify_webhook_env: str | None = None


# --------------------------------------------------------------------------------------------
# Live state (from the API)


@dataclass(frozen=True, slots=True)
class Marker:
    """kbctl's ownership marker, read back from a document name."""

    key: str
    project: str
    environment: str | None  # None: a shared document, the project's (not one environment's)
    hash12: str


@dataclass(frozen=True, slots=True)
class LiveDocument:
    """A document in the workspace that concerns this target (managed, or attached to the agent)."""

    id: str
    name: str
    doc_type: DocType
    size_bytes: int
    marker: Marker | None  # None: not kbctl's for this project (ElevenLabs) or environment
    created_at: int | None = None  # unix seconds, from the listing's metadata (None: not given)
    updated_at: int | None = None  # later than created_at: edited in place (or refreshed)
    #: OpenAI only: the user's attributes on the store (kbctl's `kbctl_*` keys left out), sorted
    #: by key; None where the provider has no such thing (ElevenLabs).
    metadata: Metadata | None = None

    @property
    def touched_since_created(self) -> bool:
        """True when the API says the document changed after it was created (a rename counts
        too: the content is worth a look, not proven edited)."""
        return (
            self.created_at is not None
            and self.updated_at is not None
            and self.updated_at > self.created_at
        )


@dataclass(frozen=True, slots=True)
class KbEntry:
    """One entry of an agent's `knowledge_base` array."""

    id: str
    name: str
    doc_type: DocType
    usage_mode: UsageMode


@dataclass(frozen=True, slots=True)
class LiveAgent:
    """The parts of an agent kbctl reads and writes."""

    id: str
    name: str
    version_id: str | None
    branch_id: str | None
    knowledge_base: tuple[KbEntry, ...]
    rag: RagSettings


@dataclass(frozen=True, slots=True)
class RagQuota:
    """Workspace RAG index usage (overview endpoint)."""

    used_bytes: int
    max_bytes: int | None  # None: the API did not say (unknown, never 0)


@dataclass(frozen=True, slots=True)
class IndexHealth:
    """The RAG index of one attached document for the agent's model, as read before planning.

    `reported` is the status as the API named it (a status newer than kbctl reads as UNKNOWN
    in `status` but keeps its name here, for messages).
    """

    doc_id: str
    status: IndexStatus
    reported: str = ""
    progress: float = 0.0  # progress_percentage, while in flight


@dataclass(frozen=True, slots=True)
class LiveState:
    """What the API says, for one target: the agent and the documents that concern it.

    `read_state` fills the first three; `kbctl.observe` adds what planning on the live truth
    needs beyond names: the index of every attached document (and of every managed one the plan
    could reuse) for `index_model`, the ids of managed documents whose live content is no longer
    what their marker says (`edited`), and who else uses managed documents (`shared`). None is
    part of the fingerprint (indexes move on their own; edits show as a replace).
    """

    agent: LiveAgent
    documents: tuple[LiveDocument, ...]  # sorted by id (sorted on construction if not)
    quota: RagQuota | None = None
    warnings: tuple[str, ...] = ()  # reads that were tolerated (e.g. a listing cut short)
    index_model: str | None = None  # None: index health was not read
    indexes: tuple[IndexHealth, ...] = ()  # by doc id
    edited: tuple[str, ...] = ()  # doc ids, sorted
    #: Managed documents another agent or branch uses (or may: not told), by id. None: not
    #: read (unattached ones are orphans then; apply asks right before each delete).
    shared: tuple[SharedUse, ...] | None = None

    def __post_init__(self) -> None:
        docs = self.documents
        if any(docs[i].id > docs[i + 1].id for i in range(len(docs) - 1)):
            object.__setattr__(self, "documents", tuple(sorted(docs, key=_doc_id)))

    def document(self, doc_id: str) -> LiveDocument | None:
        """The live document with this id, if known (a binary search: `documents` is sorted)."""
        at = bisect_left(self.documents, doc_id, key=_doc_id)
        if at < len(self.documents) and self.documents[at].id == doc_id:
            return self.documents[at]
        return None


def _doc_id(doc: LiveDocument) -> str:
    return doc.id
