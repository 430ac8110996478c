"""Retrieval checks: prove the agent's documents answer the questions they must.

A manifest's `checks` name a query and the document keys it must retrieve within `top_k`.
`run_checks` evaluates them through a `Retriever` (the agent's own rag-query retrieval, or the
knowledge-base content search filtered to the agent's documents) into a `ChecksReport` with
Coverage@1 and Coverage@k. `kbctl check` prints it; apply gates on it (`kbctl.checks.gate`).
See docs/checks.md.
"""

from kbctl.checks.docsets import DocumentSet, live_documents, planned_documents
from kbctl.checks.gate import CheckStage
from kbctl.checks.report import CheckResult, ChecksReport, Found, report_from_dict, report_to_dict
from kbctl.checks.retriever import (
    AutoRetriever,
    RagQueryRetriever,
    Retrieved,
    Retriever,
    RetrieverChoice,
    SearchRetriever,
    make_retriever,
)
from kbctl.checks.runner import run_checks

__all__ = [
    "AutoRetriever",
    "CheckResult",
    "CheckStage",
    "ChecksReport",
    "DocumentSet",
    "Found",
    "RagQueryRetriever",
    "Retrieved",
    "Retriever",
    "RetrieverChoice",
    "SearchRetriever",
    "live_documents",
    "make_retriever",
    "planned_documents",
    "report_from_dict",
    "report_to_dict",
    "run_checks",
]
