"""The fingerprint of a live state: what a saved plan checks it still stands on.

Owns which parts of a `LiveState` count (the agent's array and RAG settings, the documents'
ids, names, types and kbctl's metadata) and their canonical hash. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json

from kbctl.model import LiveDocument, LiveState


def live_fingerprint(live: LiveState, referenced: frozenset[str] | None = None) -> str:
    """sha256 of the state a plan depends on (the quota is left out: it moves on its own).

    The user's metadata of a managed document (OpenAI attributes) counts: a plan that keeps
    or rewrites it was made from its values. Unmanaged documents' metadata does not: kbctl
    never writes it. With `referenced` (shared documents: the unattached ones a plan reuses
    or deletes), other unattached documents, another environment's, are left out."""
    agent = live.agent
    held = {e.id for e in agent.knowledge_base} | (referenced or set())
    data = {
        "agent": {
            "id": agent.id,
            "knowledge_base": [
                [e.id, e.name, e.doc_type.value, e.usage_mode.value] for e in agent.knowledge_base
            ],
            "rag": [[k, v] for k, v in agent.rag.items()],
        },
        "documents": sorted(
            _fingerprinted(d) for d in live.documents if referenced is None or d.id in held
        ),
    }
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _fingerprinted(doc: LiveDocument) -> list[object]:
    """What the fingerprint keeps of one document (metadata only where it is kbctl's)."""
    row: list[object] = [doc.id, doc.name, doc.doc_type.value]
    if doc.metadata is not None and doc.marker is not None:
        row.append([[key, value] for key, value in doc.metadata])
    return row
