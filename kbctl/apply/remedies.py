"""What to do about each way a document can fail the index gate (reference §9, user research §6.1).

Owns the advice text only: one sentence per RAG index status (plus kbctl's own `timeout` and
`not waited for`), written for the person reading a failed CI log. No I/O, no decisions.
"""

from __future__ import annotations

from enum import StrEnum

from kbctl.model import IndexStatus


class GateReason(StrEnum):
    """Why a document did not pass the gate when no API status says it."""

    TIMEOUT = "timeout"  # still indexing when policy.index_timeout ran out
    NOT_WAITED = "not_waited"  # still indexing when another document failed


_BY_STATUS: dict[IndexStatus, str] = {
    IndexStatus.FAILED: (
        "indexing failed: check that the document is valid, readable text, then retry apply"
    ),
    IndexStatus.RAG_LIMIT_EXCEEDED: (
        "the workspace RAG quota is full: remove documents or upgrade the plan; "
        "`kbctl status` shows usage"
    ),
    IndexStatus.DOCUMENT_TOO_SMALL: (
        "too small to index (under 500 bytes): merge small documents, "
        "or set usage_mode: prompt (or policy.small_documents: prompt)"
    ),
    IndexStatus.CANNOT_INDEX_FOLDER: (
        "folders cannot be RAG-indexed: declare the documents inside it instead"
    ),
    IndexStatus.UNKNOWN: (
        "the API answered an index status this kbctl does not know: check the document in the "
        "ElevenLabs dashboard, retry apply, or upgrade kbctl"
    ),
    IndexStatus.NOT_INDEXED: (
        "the API kept no index for the document: retry apply; if it persists, check the "
        "agent's embedding model"
    ),
}

_BY_REASON: dict[GateReason, str] = {
    GateReason.TIMEOUT: (
        "still indexing when policy.index_timeout ran out: raise policy.index_timeout "
        "(large documents can take minutes), then retry apply"
    ),
    GateReason.NOT_WAITED: (
        "still indexing when another document failed; apply stopped without waiting for it"
    ),
}


def remedy(reason: IndexStatus | GateReason) -> str:
    """One sentence: what the status means and what to do about it."""
    if isinstance(reason, GateReason):
        return _BY_REASON[reason]
    return _BY_STATUS.get(reason, _BY_STATUS[IndexStatus.UNKNOWN])


def is_gate_failure(status: IndexStatus) -> bool:
    """True for a terminal status that stops apply (everything terminal except `succeeded`)."""
    return not status.in_flight and status is not IndexStatus.SUCCEEDED
