"""What apply does for each kind of planned change, decided by matching on its type.

Owns the per-change rules of the executor's steps: which changes need work before the swap
(upload, reuse, index), which document holds each one, which kept documents get a new name, and
how the array apply writes follows what the index gate learnt about small documents (attached in
prompt mode, or left out). Pure functions over plan values; the executor makes the calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import assert_never

from kbctl.model import SmallDocumentPolicy, UsageMode
from kbctl.plan.types import (
    CreateDocument,
    DeleteDocument,
    DocumentChange,
    KeepDocument,
    ReindexDocument,
    ReplaceDocument,
    TargetEntry,
    UpdateDocument,
)


@dataclass(frozen=True, slots=True)
class Upload:
    """Step 1 for a create or replace: upload `change`'s content (no orphan to reuse)."""

    change: CreateDocument | ReplaceDocument


@dataclass(frozen=True, slots=True)
class Hold:
    """Step 1 for a change an existing document satisfies: `doc_id` (a reused orphan, or the
    kept document); `index` says whether it needs its index requested and awaited."""

    change: DocumentChange
    doc_id: str
    index: bool
    retry_failed: bool = False  # a re-index: an index that ended badly is asked for anew


Work = Upload | Hold


def work_for(change: DocumentChange) -> Work | None:
    """What step 1 does for `change` (None: nothing before the swap)."""
    match change:
        case CreateDocument() | ReplaceDocument():
            if change.reuse_id is None:
                return Upload(change)
            return Hold(change, change.reuse_id, change.needs_index)
        case UpdateDocument():
            return Hold(change, change.live_id, True) if change.needs_index else None
        case ReindexDocument():
            return Hold(change, change.live_id, True, retry_failed=True)
        case KeepDocument() | DeleteDocument():
            return None
        case _:
            assert_never(change)


def is_new(change: DocumentChange) -> bool:
    """True for a change whose document this run uploads or reuses (a create or replace)."""
    return isinstance(change, CreateDocument | ReplaceDocument)


def renames(changes: Iterable[DocumentChange]) -> list[UpdateDocument]:
    """Updates whose document itself (not only the agent's entry) needs a new name or, where
    the provider keeps it (OpenAI attributes), new metadata."""
    return [
        c
        for c in changes
        if isinstance(c, UpdateDocument)
        and (
            (c.live_name != c.name and any(f.field in ("name", "key") for f in c.fields))
            or any(f.field == "metadata" for f in c.fields)
        )
    ]


def follow_small(
    planned: Sequence[TargetEntry], small_keys: Iterable[str], policy: SmallDocumentPolicy
) -> tuple[TargetEntry, ...]:
    """The planned array once the API called some documents too small to index: in prompt
    mode under policy `prompt`, left out under `skip` (the gate fails them under `fail`)."""
    small = set(small_keys)
    if not small:
        return tuple(planned)
    out: list[TargetEntry] = []
    for entry in planned:
        if entry.key not in small or policy is SmallDocumentPolicy.FAIL:
            out.append(entry)
        elif policy is SmallDocumentPolicy.PROMPT:
            out.append(replace(entry, usage_mode=UsageMode.PROMPT))
    return tuple(out)
