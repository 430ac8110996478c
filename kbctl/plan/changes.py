"""The planned fate of one document key: a closed union of one frozen type per action.

Each action carries exactly the fields that mean something for it (a delete has no content, a
create has no live document, a replace always supersedes one), so code that acts on a change
matches on its type (`match change: case CreateDocument(): … case _: assert_never(change)`)
instead of asserting which optional fields happen to be set. Every type also answers the
common read-only view the renderers and the plan file use (`action`, `name`, `live_id`,
`needs_index`, …), with the constant its action implies. Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from kbctl.model import DocType, UsageMode


class Action(StrEnum):
    """What happens to one declared (or formerly declared) document (its JSON `action`)."""

    CREATE = "create"
    REPLACE = "replace"  # content changed: create → index → swap → delete the old one
    UPDATE = "update"  # only usage_mode and/or name change; no upload
    DELETE = "delete"  # managed, no longer declared: detached, then deleted
    REINDEX = "reindex"  # kept as it is, but without a succeeded index for the agent's model
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
    Action.REINDEX: "↻",
    Action.NOOP: " ",
}


class ReplaceReason(StrEnum):
    """Why a document is replaced (its JSON `reason`)."""

    CONTENT = "content_changed"  # the manifest declares other content
    EDITED = "edited_in_place"  # the live content was edited in place; the marker lies
    FORCED = "forced"  # `--replace KEY` / `--replace-all`: uploaded and indexed again as it is


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One attribute that changes: in place (`name`, `usage_mode`, `key`, `entries`) or, on a
    replace, the content (`content_hash`, 12 characters) and `doc_type`."""

    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class CreateDocument:
    """Upload a declared document (or reuse a managed orphan with its content) and attach it."""

    action: ClassVar[Action] = Action.CREATE
    key: str
    doc_type: DocType
    name: str
    usage_mode: UsageMode  # effective: after the small-document policy
    content_hash: str
    size_bytes: int | None  # None for URLs (unknown)
    reuse_id: str | None = None
    needs_index: bool = False
    notes: tuple[str, ...] = ()

    @property
    def live_id(self) -> None:
        """Nothing live holds the key yet."""
        return None

    @property
    def live_name(self) -> None:
        """Nothing live holds the key yet."""
        return None

    @property
    def fields(self) -> tuple[FieldChange, ...]:
        """A create changes no existing attribute."""
        return ()


@dataclass(frozen=True, slots=True)
class ReplaceDocument:
    """Create the declared content anew, index it, swap it in for `live_id`, delete that one."""

    action: ClassVar[Action] = Action.REPLACE
    key: str
    doc_type: DocType
    name: str
    usage_mode: UsageMode
    content_hash: str
    size_bytes: int | None
    live_id: str  # the document superseded
    live_name: str
    reuse_id: str | None = None
    needs_index: bool = False
    fields: tuple[FieldChange, ...] = ()
    notes: tuple[str, ...] = ()
    reason: ReplaceReason = ReplaceReason.CONTENT
    #: A unified diff of the live text against the declared text (text documents only),
    #: attached after planning by `kbctl.contentdiff`; None when not computed (`--no-diff`,
    #: a file or URL, content not readable).
    diff: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateDocument:
    """Keep `live_id` and correct its name, key or usage mode in place (maybe index it too)."""

    action: ClassVar[Action] = Action.UPDATE
    key: str
    doc_type: DocType
    name: str
    usage_mode: UsageMode
    content_hash: str
    size_bytes: int | None
    live_id: str
    live_name: str
    needs_index: bool = False
    fields: tuple[FieldChange, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def reuse_id(self) -> None:
        """An update keeps the attached document."""
        return None


@dataclass(frozen=True, slots=True)
class ReindexDocument:
    """Keep `live_id` as it is, and request and await its RAG index for the agent's model.

    `index_status` is the status the plan saw (`not_indexed`, `failed`, a status newer than
    kbctl…), or None when it was not read (every document needs a new index after a model
    change).
    """

    action: ClassVar[Action] = Action.REINDEX
    key: str
    doc_type: DocType
    name: str
    usage_mode: UsageMode
    content_hash: str
    size_bytes: int | None
    live_id: str
    live_name: str
    index_status: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def needs_index(self) -> bool:
        """Always: that is the action."""
        return True

    @property
    def reuse_id(self) -> None:
        """A re-index keeps the attached document."""
        return None

    @property
    def fields(self) -> tuple[FieldChange, ...]:
        """Nothing about the document changes."""
        return ()


@dataclass(frozen=True, slots=True)
class KeepDocument:
    """Nothing to do: the attached document `live_id` is what the manifest declares."""

    action: ClassVar[Action] = Action.NOOP
    key: str
    doc_type: DocType
    name: str
    usage_mode: UsageMode
    content_hash: str
    size_bytes: int | None
    live_id: str
    live_name: str
    notes: tuple[str, ...] = ()

    @property
    def needs_index(self) -> bool:
        """Never: a kept document needing an index is a `ReindexDocument`."""
        return False

    @property
    def reuse_id(self) -> None:
        """Nothing is reused."""
        return None

    @property
    def fields(self) -> tuple[FieldChange, ...]:
        """Nothing changes."""
        return ()


@dataclass(frozen=True, slots=True)
class DeleteDocument:
    """Detach `live_id` (a managed document nothing keeps) and delete it after the swap."""

    action: ClassVar[Action] = Action.DELETE
    key: str  # read from the marker
    doc_type: DocType
    size_bytes: int | None
    live_id: str
    live_name: str
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> None:
        """A deleted document will have no name."""
        return None

    @property
    def usage_mode(self) -> None:
        """A deleted document is not attached."""
        return None

    @property
    def content_hash(self) -> None:
        """Nothing is declared for it."""
        return None

    @property
    def reuse_id(self) -> None:
        """Nothing is reused."""
        return None

    @property
    def needs_index(self) -> bool:
        """Never."""
        return False

    @property
    def fields(self) -> tuple[FieldChange, ...]:
        """A delete changes no attribute."""
        return ()


#: Every planned fate of a document key; dispatch with `match` and `assert_never`.
DocumentChange = (
    CreateDocument
    | ReplaceDocument
    | UpdateDocument
    | ReindexDocument
    | KeepDocument
    | DeleteDocument
)
