"""The planner's predictions of what apply would hit: model change, index health, quota and
policy findings.

Pure: reads the changes the planner decided and returns `Finding`s in a fixed order
(`model_change`, `index_missing`, `quota`/`quota_exceeded`, `max_deletes`, `protected`,
`destroy_all`, `repeated_entry`, `unindexed_unmanaged`, `unmanaged`). The `small_document`
findings come first; the planner makes them itself. These are findings about the agent as a
whole: each points at the manifest file (`Finding.file`), without a line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kbctl.model import IndexStatus, KbEntry, Policy, RagQuota, UsageMode
from kbctl.plan.changes import ReindexDocument
from kbctl.plan.types import Deletion, DocumentChange, Finding, Severity, TargetEntry
from kbctl.plan.units import format_size
from kbctl.wording import AGENT, Wording

_SHOWN_KEYS = 5


@dataclass(frozen=True, slots=True)
class FindingInputs:
    """What the findings depend on, as the planner decided it."""

    manifest: str  # the manifest path as given: where the findings point
    changes: tuple[DocumentChange, ...]
    deletions: tuple[Deletion, ...]
    knowledge_base: tuple[TargetEntry, ...]
    live_managed: int  # managed entries attached now
    unmanaged: int  # unmanaged entries attached now (kept)
    unmanaged_auto: int
    repeated: tuple[KbEntry, ...]  # unmanaged entries whose id the live array holds twice or more
    quota: RagQuota | None
    policy: Policy
    protect: bool
    model: str
    previous_model: str | None  # set when the embedding model changes
    model_managed: bool = True  # the manifest sets rag.embedding_model
    #: (id, name, status) of unmanaged `auto` documents without a succeeded index.
    unindexed_unmanaged: tuple[tuple[str, str, str], ...] = ()
    #: `auto` documents attached now (managed or not); None when not counted.
    live_auto: int | None = None
    #: managed documents no longer declared that stay because another agent uses them: only
    #: detached from this one (not deletions), which `protect` still guards.
    detached: tuple[Deletion, ...] = ()
    #: How the messages name the target (agent, vector store).
    words: Wording = AGENT


def findings_for(inputs: FindingInputs) -> tuple[Finding, ...]:
    """Every finding after `small_document`, in a fixed order."""
    out: list[Finding] = []
    # A model change matters only to an agent with documents indexed for the old model.
    if inputs.previous_model is not None and inputs.live_auto != 0:
        out.append(_model_change(inputs))
    reindex = [c for c in inputs.changes if isinstance(c, ReindexDocument)]
    if reindex and inputs.previous_model is None:
        out.append(_index_missing(inputs, reindex))
    if inputs.quota is not None and inputs.quota.max_bytes is not None:  # unknown: no finding
        out.append(_quota(inputs.changes, inputs.quota.used_bytes, inputs.quota.max_bytes))
    removed = [d for d in inputs.deletions if d.reason == "removed"]
    if len(removed) > inputs.policy.max_deletes:
        out.append(
            Finding(
                "max_deletes",
                Severity.ERROR,
                f"{_count(len(removed), 'document')} would be deleted, more than policy "
                f"max_deletes ({inputs.policy.max_deletes}): apply needs --allow-destroy",
            )
        )
    if inputs.protect and (removed or inputs.detached):
        parts = [f"{_count(len(removed), 'document')} would be deleted ({_keys(removed)})"]
        if inputs.detached:
            parts = [p for p in parts if removed] + [
                f"{_count(len(inputs.detached), 'shared document')} detached "
                f"({_keys(list(inputs.detached))})"
            ]
        out.append(
            Finding(
                "protected",
                Severity.ERROR,
                f"the environment is protected and {' and '.join(parts)}: apply needs "
                "--allow-destroy",
            )
        )
    if inputs.live_managed and not any(e.key is not None for e in inputs.knowledge_base):
        out.append(
            Finding(
                "destroy_all",
                Severity.ERROR,
                f"{inputs.words.the} would lose every managed document ({inputs.live_managed}): "
                "apply needs --allow-destroy",
            )
        )
    for entry in inputs.repeated:
        out.append(
            Finding(
                "repeated_entry",
                Severity.WARNING,
                f"{entry.name} ({entry.id}) is attached more than once; kbctl writes it once "
                "the next time it writes the agent's knowledge_base",
            )
        )
    for doc_id, name, status in inputs.unindexed_unmanaged:
        out.append(
            Finding(
                "unindexed_unmanaged",
                Severity.WARNING,
                f"{name} ({doc_id}) is attached in auto mode but its index for {inputs.model} "
                f"is {status}: {inputs.words.the} cannot search it, and kbctl does not touch "
                "unmanaged "
                "documents",
            )
        )
    if inputs.unmanaged:
        out.append(
            Finding(
                "unmanaged",
                Severity.INFO,
                f"{_count(inputs.unmanaged, 'unmanaged document')} attached to "
                f"{inputs.words.the}: "
                "kept as is, never modified or deleted",
            )
        )
    return tuple(replace(f, file=inputs.manifest) for f in out)


def _model_change(inputs: FindingInputs) -> Finding:
    # With index health read, a document that already has an index for the new model needs
    # none; without it, every auto document does.
    auto = sum(1 for c in inputs.changes if c.needs_index and c.usage_mode is UsageMode.AUTO)
    message = (
        f"embedding model {inputs.previous_model} → {inputs.model}: every auto document "
        f"without an index for {inputs.model} ({auto}) needs a new one"
    )
    if inputs.unmanaged_auto:
        message += (
            f"; {_count(inputs.unmanaged_auto, 'unmanaged auto document')} not indexed by kbctl"
        )
    return Finding("model_change", Severity.WARNING, message)


def _index_missing(inputs: FindingInputs, reindex: list[ReindexDocument]) -> Finding:
    count = len(reindex)
    if all(_in_flight(c.index_status) for c in reindex):
        # Attached and still being indexed, e.g. by a run killed at the gate (attaching a file
        # to a vector store is what starts its processing): nothing to guess about the model.
        return Finding(
            "index_missing",
            Severity.WARNING,
            f"{_count(count, 'attached auto document')} still being indexed for "
            f"{inputs.model}: {inputs.words.the} cannot search them yet; apply waits for them",
        )
    whose = (
        f"{inputs.model}"
        if inputs.model_managed or inputs.words != AGENT  # a store has no model setting
        else f"{inputs.model}, the model the agent uses now (the manifest does not manage "
        "rag.embedding_model: was it switched in the dashboard?)"
    )
    return Finding(
        "index_missing",
        Severity.WARNING,
        f"{_count(count, 'attached auto document')} without a succeeded index for {whose}: "
        f"{inputs.words.the} cannot search them; apply re-indexes them",
    )


def _in_flight(status: str | None) -> bool:
    return status is not None and IndexStatus.parse(status).in_flight


def _quota(changes: tuple[DocumentChange, ...], used: int, limit: int) -> Finding:
    to_index = [c for c in changes if c.needs_index and c.reuse_id is None]
    size = sum(c.size_bytes or 0 for c in to_index)
    unknown = sum(1 for c in to_index if c.size_bytes is None)
    extra = f" (+ {_count(unknown, 'URL document')} of unknown size)" if unknown else ""
    if used + size > limit:
        return Finding(
            "quota_exceeded",
            Severity.ERROR,
            f"indexing {format_size(size)}{extra} would exceed the RAG quota: "
            f"{format_size(used)} of {format_size(limit)} used, "
            f"{format_size(max(limit - used, 0))} free; apply would stop with "
            "rag_limit_exceeded (replaced documents free their index only after the swap)",
        )
    return Finding(
        "quota",
        Severity.INFO,
        f"indexing {format_size(size)}{extra}: RAG quota {format_size(used)} of "
        f"{format_size(limit)} used, at most {format_size(used + size)} after apply",
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _keys(deletions: list[Deletion]) -> str:
    keys = [d.key for d in deletions[:_SHOWN_KEYS]]
    more = len(deletions) - len(keys)
    return ", ".join(keys) + (f" and {more} more" if more else "")
