"""The set of documents retrieval checks run against, with the key ↔ id mapping of each one.

Owns how a plan (apply: the `knowledge_base` the agent is about to have) or the live state
(`kbctl check`: the agent's attached documents) becomes a `DocumentSet`: managed documents by
their manifest key (from kbctl's ownership marker), unmanaged ones by id with their names. Pure:
it never calls the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kbctl.checks.report import Found
from kbctl.model import LiveState
from kbctl.plan.types import TargetEntry


@dataclass(frozen=True, slots=True)
class DocumentSet:
    """What an agent has (or is about to have), as checks see it.

    Attributes:
        by_key: managed documents, manifest key → document id (the only ones `expect` names).
        others: unmanaged documents, id → name: retrievable (they can outrank a managed one),
            never expected.
    """

    by_key: Mapping[str, str]
    others: Mapping[str, str] = field(default_factory=dict)

    @property
    def allowed_ids(self) -> frozenset[str]:
        """Every id a retrieval may return."""
        return frozenset(self.by_key.values()) | frozenset(self.others)

    def labels(self) -> dict[str, Found]:
        """How a report names each document: by key, or by name when unmanaged."""
        out = {doc_id: Found(doc_id, None, name) for doc_id, name in self.others.items()}
        out.update({doc_id: Found(doc_id, key, key) for key, doc_id in self.by_key.items()})
        return out


def planned_documents(entries: Iterable[TargetEntry], ids_by_key: Mapping[str, str]) -> DocumentSet:
    """The documents of a plan's `knowledge_base`, with the ids apply created or reused."""
    by_key: dict[str, str] = {}
    others: dict[str, str] = {}
    for entry in entries:
        doc_id = (ids_by_key.get(entry.key) if entry.key is not None else None) or entry.id
        if doc_id is None:
            continue  # not created (apply stops before the checks in that case)
        if entry.key is not None:
            by_key[entry.key] = doc_id
        else:
            others[doc_id] = entry.name
    return DocumentSet(by_key, others)


def live_documents(live: LiveState) -> DocumentSet:
    """The documents attached to the live agent; keys come from this target's markers."""
    by_key: dict[str, str] = {}
    others: dict[str, str] = {}
    for entry in live.agent.knowledge_base:
        doc = live.document(entry.id)
        if doc is not None and doc.marker is not None and doc.marker.key not in by_key:
            by_key[doc.marker.key] = entry.id
        else:
            others[entry.id] = entry.name
    return DocumentSet(by_key, others)
