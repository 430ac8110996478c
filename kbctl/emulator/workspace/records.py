"""The workspace's records (documents, RAG indexes, agents and their versions), the read-only
views handed to tests, and deterministic ids.

Owns plain data only. Must not know about HTTP, JSON shapes (see `shapes`), locking or files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TypeVar

#: A JSON object as parsed by `json.loads` (values are JSON values).
Json = dict[str, object]

_J = TypeVar("_J")


def json_copy(value: _J) -> _J:
    """A deep copy of a JSON value (objects, arrays, strings, numbers, booleans, null): the C
    encoder and decoder, about ten times `copy.deepcopy` on a 10,000-entry knowledge base."""
    copied: _J = json.loads(json.dumps(value))
    return copied


DOC_TYPES = ("file", "url", "text", "folder")
USAGE_MODES = ("prompt", "auto")
EMBEDDING_MODELS = ("e5_mistral_7b_instruct", "multilingual_e5_large_instruct")
DEFAULT_EMBEDDING_MODEL = "e5_mistral_7b_instruct"
MAIN_BRANCH_NAME = "Main"

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def make_id(seed: int, serial: int, length: int = 20) -> str:
    """A 20-char alphanumeric id, a pure function of (seed, serial)."""
    digest = hashlib.sha256(f"kbctl-emulator:{seed}:{serial}".encode()).digest()
    number = int.from_bytes(digest, "big")
    out = []
    for _ in range(length):
        number, rest = divmod(number, len(_ALPHABET))
        out.append(_ALPHABET[rest])
    return "".join(out)


@dataclass(slots=True)
class Document:
    """A KB document or folder. `data` is the stored source (text UTF-8, file bytes, URL page)."""

    id: str
    seq: int
    doc_type: str
    name: str
    created_at: int
    updated_at: int
    parent_id: str | None = None
    data: bytes = b""
    url: str | None = None
    filename: str | None = None
    enable_auto_sync: bool = False
    auto_remove: bool = False
    minimum_frequency_days: int | None = None
    text: str = field(default="", repr=False)

    def set_data(self, data: bytes) -> None:
        """Replace the content (and its extracted text: naive UTF-8 decoding)."""
        self.data = data
        self.text = data.decode("utf-8", errors="replace")

    @property
    def size_bytes(self) -> int:
        """Bytes counted by metadata, RAG usage and the quota."""
        return len(self.data)


@dataclass(slots=True)
class RagIndex:
    """One RAG index attempt for (document, model). Its status is computed from the clock.

    `outcome` is the terminal status decided when the attempt was requested; `requested_at` is
    when (Unix seconds, on the injected clock).
    """

    id: str
    document_id: str
    model: str
    requested_at: float
    outcome: str
    size_bytes: int


@dataclass(slots=True)
class AgentVersion:
    """One committed version of an agent on one of its branches (immutable once written).
    `parent_id` is the previous version on the same branch; `origin` records where a branch's
    first version or a merge came from (`{"out_of_branch_parent_id": …}` or
    `{"merged_from_branch_id": …, "merged_from_version_id": …}`)."""

    id: str
    agent_id: str
    branch_id: str
    seq_no: int
    committed_at: int
    description: str
    name: str
    tags: list[str]
    conversation_config: Json
    platform_settings: Json
    workflow: Json | None
    parent_id: str | None
    origin: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Branch:
    """A line of versions of an agent (oldest first; the last is the head)."""

    id: str
    name: str
    description: str
    created_at: int
    version_ids: list[str]
    parent_branch_id: str | None = None
    is_archived: bool = False
    protection_status: str | None = None
    merged_into_branch_id: str | None = None


@dataclass(slots=True)
class Deployment:
    """One traffic split of an agent's branches (percentages by branch id)."""

    id: str
    deployed_at: int
    traffic: dict[str, float]
    source: str


@dataclass(slots=True)
class Agent:
    """An agent: identity, its branches (main first) and its traffic-split history (oldest
    first; the last is live)."""

    agent_id: str
    created_at: int
    updated_at: int
    main_branch_id: str
    branches: dict[str, Branch]
    deployments: list[Deployment] = field(default_factory=list)

    @property
    def version_ids(self) -> list[str]:
        """The main branch's versions, oldest first."""
        return self.branches[self.main_branch_id].version_ids

    def traffic(self) -> dict[str, float]:
        """The live split: branch id -> percentage (all of it on main before any deployment)."""
        if not self.deployments:
            return {self.main_branch_id: 100.0}
        return dict(self.deployments[-1].traffic)


# --------------------------------------------------------------------------------------------
# Read-only views for tests (copies; mutating them changes nothing)


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A document as tests see it."""

    id: str
    doc_type: str
    name: str
    content: str
    data: bytes
    size_bytes: int
    created_at: int
    updated_at: int
    parent_id: str | None
    url: str | None
    filename: str | None


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """A RAG index with its status at the moment it was read."""

    id: str
    document_id: str
    model: str
    status: str
    progress_percentage: float
    used_bytes: int


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """An agent's head version as tests see it."""

    agent_id: str
    name: str
    version_id: str
    branch_id: str
    version_count: int
    knowledge_base: tuple[Json, ...]
    rag: Json
    conversation_config: Json
