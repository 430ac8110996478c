"""The plan as a value: what the planner returns, renderers draw, planfiles store, apply executes.

Pure data, frozen, tuples only. Built by `kbctl.plan.planner.plan_target`; never built with I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from kbctl.model import DocType, KbEntry, Policy, UsageMode

FORMAT_VERSION = 1

RagValue = bool | int | float | str | None


class Action(StrEnum):
    """What happens to one declared (or formerly declared) document."""

    CREATE = "create"
    REPLACE = "replace"  # content changed: create → index → swap → delete the old one
    UPDATE = "update"  # only usage_mode and/or name change; no upload, no index
    DELETE = "delete"  # managed, no longer declared: detached, then deleted
    NOOP = "noop"

    @property
    def symbol(self) -> str:
        """Terraform-style marker."""
        return _SYMBOLS[self]


_SYMBOLS = {
    Action.CREATE: "+",
    Action.REPLACE: "±",
    Action.UPDATE: "~",
    Action.DELETE: "-",
    Action.NOOP: " ",
}


class Severity(StrEnum):
    """How serious a finding is: `error` means apply will refuse or stop."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One attribute that changes: in place (`name`, `usage_mode`, `key`) or, on a replace,
    the content (`content_hash`, 12 characters) and `doc_type`."""

    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class DocumentChange:
    """The planned fate of one document key.

    Attributes:
        live_id: update/noop: the document kept; replace: the one superseded;
            delete: the one removed.
        reuse_id: create/replace satisfied by a managed orphan that already has the wanted content.
        name: the name the document will have (kbctl's marker); None for delete.
        usage_mode: the effective usage mode (after the small-document policy); None for delete.
        needs_index: apply must request/await the RAG index before the swap.
    """

    action: Action
    key: str
    doc_type: DocType
    name: str | None
    usage_mode: UsageMode | None
    content_hash: str | None
    size_bytes: int | None
    live_id: str | None = None
    live_name: str | None = None
    reuse_id: str | None = None
    needs_index: bool = False
    fields: tuple[FieldChange, ...] = ()
    notes: tuple[str, ...] = ()


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


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts per action (DESIGN §4)."""

    create: int = 0
    replace: int = 0
    update: int = 0
    delete: int = 0
    noop: int = 0

    def __add__(self, other: Summary) -> Summary:
        return Summary(
            self.create + other.create,
            self.replace + other.replace,
            self.update + other.update,
            self.delete + other.delete,
            self.noop + other.noop,
        )


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

    @property
    def summary(self) -> Summary:
        """Counts per action."""
        counts = {action: 0 for action in Action}
        for change in self.changes:
            counts[change.action] += 1
        return Summary(
            counts[Action.CREATE],
            counts[Action.REPLACE],
            counts[Action.UPDATE],
            counts[Action.DELETE],
            counts[Action.NOOP],
        )

    @property
    def has_changes(self) -> bool:
        """True when apply would change anything at all."""
        return (
            any(c.action is not Action.NOOP or c.needs_index for c in self.changes)
            or bool(self.rag_changes)
            or bool(self.deletions)
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """Every agent plan of one `kbctl plan -e ENV` run."""

    environment: str
    agents: tuple[AgentPlan, ...]
    format_version: int = FORMAT_VERSION

    @property
    def summary(self) -> Summary:
        """Counts per action over every agent."""
        total = Summary()
        for agent in self.agents:
            total = total + agent.summary
        return total

    @property
    def has_changes(self) -> bool:
        """True when any agent plan has changes."""
        return any(a.has_changes for a in self.agents)

    @property
    def fingerprint(self) -> str:
        """Combined fingerprint of the live states the agent plans were made from."""
        joined = "\n".join(f"{a.manifest}|{a.agent_id}|{a.fingerprint}" for a in self.agents)
        return hashlib.sha256(joined.encode()).hexdigest()
