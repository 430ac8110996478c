"""What to do about each way a document can fail the index gate (reference §9, user research §6.1).

Owns the advice text only: one sentence per RAG index status (plus kbctl's own `timeout` and
`not waited for`), written for the person reading a failed CI log, and worded for the
small-document policy in force. No I/O, no decisions.
"""

from __future__ import annotations

from enum import StrEnum

from kbctl.model import IndexStatus, SmallDocumentPolicy


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

_TOO_SMALL: dict[SmallDocumentPolicy, str] = {
    SmallDocumentPolicy.FAIL: (
        "too small to index (the API measures the extracted text: under 500 bytes), and "
        "policy.small_documents is fail: merge small documents, set usage_mode: prompt on it, "
        "or set policy.small_documents to prompt or skip"
    ),
    SmallDocumentPolicy.PROMPT: (
        "too small to index (the API measures the extracted text): attached with usage_mode "
        "prompt, as policy.small_documents: prompt says"
    ),
    SmallDocumentPolicy.SKIP: (
        "too small to index (the API measures the extracted text): left out, as "
        "policy.small_documents: skip says"
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


def remedy(
    reason: IndexStatus | GateReason,
    policy: SmallDocumentPolicy = SmallDocumentPolicy.FAIL,
    reported: str = "",
) -> str:
    """One sentence: what the status means and what to do about it.

    Args:
        reason: the final status, or kbctl's own reason.
        policy: the small-document policy in force (for `document_too_small`).
        reported: the last status the API named, for a timeout (`queued`, `processing`…).
    """
    if reason is GateReason.TIMEOUT and reported:
        if IndexStatus.parse(reported) is IndexStatus.UNKNOWN:
            return (
                f"still `{reported}` when policy.index_timeout ran out (a status this kbctl does "
                "not know, waited for as one in progress): check the document in the ElevenLabs "
                "dashboard, raise policy.index_timeout, or upgrade kbctl"
            )
        return f"still `{reported}` when policy.index_timeout ran out: " + (
            "raise policy.index_timeout (large documents can take minutes), then retry apply"
        )
    if isinstance(reason, GateReason):
        return _BY_REASON[reason]
    if reason is IndexStatus.DOCUMENT_TOO_SMALL:
        return _TOO_SMALL[policy]
    return _BY_STATUS.get(reason, _BY_STATUS[IndexStatus.UNKNOWN])


def is_gate_failure(status: IndexStatus) -> bool:
    """True for a terminal status that stops apply (everything terminal except `succeeded`).

    A status newer than kbctl is not terminal: it is waited for until the index timeout.
    """
    return not status.in_flight and status is not IndexStatus.SUCCEEDED
