"""The plan as a value: what the planner returns, renderers draw, planfiles store, apply executes.

Pure data, frozen, tuples only. Built by `kbctl.plan.planner.plan_target`; never built with I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from kbctl.model import DocType, KbEntry, Policy, ProviderKind, UsageMode
from kbctl.plan.changes import (
    Action,
    CreateDocument,
    DeleteDocument,
    DocumentChange,
    FieldChange,
    KeepDocument,
    ReindexDocument,
    ReplaceDocument,
    ReplaceReason,
    UpdateDocument,
)
from kbctl.wording import Wording, wording

__all__ = [
    "FORMAT_VERSION",
    "Action",
    "AgentPlan",
    "CreateDocument",
    "DeleteDocument",
    "Deletion",
    "DocumentChange",
    "FieldChange",
    "Finding",
    "KeepDocument",
    "Orphan",
    "Plan",
    "RagChange",
    "RagValue",
    "ReindexDocument",
    "ReplaceDocument",
    "ReplaceReason",
    "Scope",
    "Severity",
    "Summary",
    "TargetEntry",
    "Unlisted",
    "UpdateDocument",
    "endpoint_label",
]

#: 2 added the `reindex` action (and `summary.reindex`); 3 summarises unchanged documents
#: (`Unlisted`) instead of listing each one. Versions 1 and 2 are still read.
FORMAT_VERSION = 3

RagValue = bool | int | float | str | None


class Severity(StrEnum):
    """How serious a finding is: `error` means apply will refuse or stop."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class RagChange:
    """One RAG setting of the agent that changes."""

    field: str
    before: RagValue
    after: RagValue


@dataclass(frozen=True, slots=True)
class Orphan:
    """A managed, unattached document: reused if its content is wanted, else deleted."""

    id: str
    name: str
    key: str
    hash12: str
    fate: str  # "reuse" | "delete"


@dataclass(frozen=True, slots=True)
class TargetEntry:
    """One entry of the `knowledge_base` array apply will write.

    `id` is None for a document apply creates (known after apply); `key` is None for an
    unmanaged document, which is kept as it is.
    """

    key: str | None
    id: str | None
    name: str
    doc_type: DocType
    usage_mode: UsageMode


@dataclass(frozen=True, slots=True)
class Finding:
    """A prediction of what apply would hit (small documents, quota, policy, model change…).

    `file` and `line` say where in the manifest it belongs, for annotations: a document's
    finding (`small_document`) points at the document's entry (the manifest path as given,
    1-based line); an agent-level finding points at the manifest file with `line` None. Both
    are None when unknown (a plan file written before they existed).
    """

    code: str
    severity: Severity
    message: str
    key: str | None = None
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Deletion:
    """A document apply deletes after the swap."""

    id: str
    name: str
    key: str
    reason: str  # "replaced" | "removed" | "orphan" | "duplicate"

    @property
    def is_cleanup(self) -> bool:
        """An orphan (managed, not attached) is cleanup: the agent does not change for it."""
        return self.reason == "orphan"


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts per action (DESIGN §4)."""

    create: int = 0
    replace: int = 0
    update: int = 0
    delete: int = 0
    noop: int = 0
    reindex: int = 0

    def __add__(self, other: Summary) -> Summary:
        return Summary(
            self.create + other.create,
            self.replace + other.replace,
            self.update + other.update,
            self.delete + other.delete,
            self.noop + other.noop,
            self.reindex + other.reindex,
        )


@dataclass(frozen=True, slots=True)
class Unlisted:
    """What a plan file (format 3) summarises instead of listing, for one agent.

    A plan read from such a file holds no `noop` changes and no `knowledge_base`: this says how
    many there were and their sha256 digests (`kbctl.plan.planjson`), so apply can check a plan
    made again now against them (`kbctl.apply.saved`) and carry out that one. The fingerprint
    already says the live state is the same; the digests say the plan is.
    """

    noop: int
    noop_digest: str
    knowledge_base: int
    knowledge_base_digest: str


@dataclass(frozen=True, slots=True)
class AgentPlan:
    """The plan for one manifest's agent in one environment."""

    manifest: str
    project: str
    environment: str
    agent_id: str
    fingerprint: str
    embedding_model: str
    changes: tuple[DocumentChange, ...]
    rag_changes: tuple[RagChange, ...]
    orphans: tuple[Orphan, ...]
    unmanaged: tuple[KbEntry, ...]
    knowledge_base: tuple[TargetEntry, ...]
    deletions: tuple[Deletion, ...]
    findings: tuple[Finding, ...]
    protect: bool
    policy: Policy
    #: Where the live state was read: the API's host (and port), or the `emulator://` path.
    #: Shown to the reader; not part of what the plan does (plans compare equal without it).
    endpoint: str = field(default="", compare=False)
    #: Read from a plan file that summarises unchanged documents: their count and digests
    #: (then `changes` holds no noop and `knowledge_base` is empty). None: everything is here.
    unlisted: Unlisted | None = None
    #: Whose target this is, for the words of human output (`kbctl.wording`). Not in plan
    #: files (their fields are a contract): a saved plan takes it from the plan made again.
    provider: ProviderKind = field(default=ProviderKind.ELEVENLABS, compare=False)

    @property
    def words(self) -> Wording:
        """How human output names this plan's target: agent or vector store."""
        return wording(self.provider)

    @property
    def where(self) -> str:
        """`project/env (agent agent_x)`, `project/env (vector store vs_x)`: for messages."""
        return f"{self.project}/{self.environment} ({self.words.label(self.agent_id)})"

    @property
    def summary(self) -> Summary:
        """Counts per action."""
        counts = {action: 0 for action in Action}
        for change in self.changes:
            counts[change.action] += 1
        if self.unlisted is not None:
            counts[Action.NOOP] += self.unlisted.noop
        return Summary(
            counts[Action.CREATE],
            counts[Action.REPLACE],
            counts[Action.UPDATE],
            counts[Action.DELETE],
            counts[Action.NOOP],
            counts[Action.REINDEX],
        )

    @property
    def referenced(self) -> frozenset[str]:
        """Unattached documents the plan depends on: those it reuses or deletes (with shared
        documents, the fingerprint covers these besides the attached ones)."""
        return frozenset(c.reuse_id for c in self.changes if c.reuse_id) | frozenset(
            d.id for d in self.deletions
        )

    @property
    def has_changes(self) -> bool:
        """True when apply would change the agent's knowledge base (drift): any change but a
        noop, a RAG setting, or a deletion of an attached document. Orphans left to delete are
        pending cleanup (`has_cleanup`), not drift."""
        return (
            any(c.action is not Action.NOOP for c in self.changes)
            or bool(self.rag_changes)
            or any(not d.is_cleanup for d in self.deletions)
        )

    @property
    def cleanup(self) -> tuple[Deletion, ...]:
        """Managed documents attached nowhere that apply deletes (a delete the API refused
        while its dependency cache lagged, an upload of a run that stopped)."""
        return tuple(d for d in self.deletions if d.is_cleanup)

    @property
    def has_work(self) -> bool:
        """True when apply has anything to do: changes, or pending cleanup."""
        return self.has_changes or bool(self.cleanup)


def endpoint_label(base_url: str) -> str:
    """What a plan says it read: `api.elevenlabs.io`, `localhost:8765`, or `emulator://PATH`
    (without query options). Never credentials: user info in a URL is dropped."""
    if base_url.startswith("emulator://"):
        return base_url.partition("?")[0]
    parts = urlsplit(base_url)
    if not parts.hostname:
        return base_url.partition("?")[0]
    return parts.hostname + (f":{parts.port}" if parts.port else "")


@dataclass(frozen=True, slots=True)
class Scope:
    """What a targeted run covers (`--target`, `--replace`, `--replace-all`).

    `targets` are key patterns (globs); empty means every document. A partial plan changes only
    the documents they match: every other entry of the agent stays exactly as it is live, and
    the RAG settings are not written. `replace` (patterns too) and `replace_all` force a
    re-upload and a re-index of documents whose content did not change.
    """

    targets: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    replace_all: bool = False

    @property
    def partial(self) -> bool:
        """True when only the targeted documents are planned."""
        return bool(self.targets)

    def targeted(self, key: str) -> bool:
        """Whether the run covers `key`."""
        return not self.targets or any(fnmatchcase(key, p) for p in self.targets)

    def forced(self, key: str) -> bool:
        """Whether `key` is replaced even when its content did not change."""
        if not self.targeted(key):
            return False
        return self.replace_all or any(fnmatchcase(key, p) for p in self.replace)


@dataclass(frozen=True, slots=True)
class Plan:
    """Every agent plan of one `kbctl plan -e ENV` run."""

    environment: str
    agents: tuple[AgentPlan, ...]
    format_version: int = FORMAT_VERSION
    scope: Scope = Scope()

    @property
    def summary(self) -> Summary:
        """Counts per action over every agent."""
        total = Summary()
        for agent in self.agents:
            total = total + agent.summary
        return total

    @property
    def has_changes(self) -> bool:
        """True when any agent plan has changes (`--detailed-exitcode` exits 2)."""
        return any(a.has_changes for a in self.agents)

    @property
    def has_cleanup(self) -> bool:
        """True when any agent plan has orphans to delete (shown, done by apply, not drift)."""
        return any(a.cleanup for a in self.agents)

    @property
    def has_work(self) -> bool:
        """True when apply has anything to do."""
        return any(a.has_work for a in self.agents)

    @property
    def fingerprint(self) -> str:
        """Combined fingerprint of the live states the agent plans were made from."""
        joined = "\n".join(f"{a.manifest}|{a.agent_id}|{a.fingerprint}" for a in self.agents)
        return hashlib.sha256(joined.encode()).hexdigest()
