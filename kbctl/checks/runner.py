"""Evaluate retrieval checks: one retrieval per check, then ranks, pass/fail and coverage.

Pure apart from the retriever's calls: no clock, no printing, no decision about what to do with
a failing report (apply's gate and `kbctl check` decide that). `map_fn` lets a caller run the
retrievals concurrently (apply passes its thread pool's `map`); results keep manifest order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from kbctl.checks.docsets import DocumentSet
from kbctl.checks.report import CheckResult, ChecksReport, Found, contains_text
from kbctl.checks.retriever import Retrieved, Retriever, SearchRetriever
from kbctl.model import Check, ChecksPolicy

MapFn = Callable[[Callable[[Check], CheckResult], Iterable[Check]], Iterator[CheckResult]]


def run_checks(
    checks: Sequence[Check],
    documents: DocumentSet,
    retriever: Retriever,
    *,
    policy: ChecksPolicy | None = None,
    map_fn: MapFn = map,
) -> ChecksReport:
    """Run every check against `documents` and judge the result by `policy`.

    Args:
        checks: the target's checks, in manifest order.
        documents: the agent's documents (or those it is about to have), key ↔ id.
        retriever: ranks documents for a query; asked once per check.
        policy: `min_coverage` and `on_failure` (defaults: 1.0, abort).
        map_fn: how to run the retrievals (`map`, or an executor's `map`).
    """
    allowed = documents.allowed_ids
    labels = documents.labels()

    def one(check: Check) -> CheckResult:
        if check.top_k < 1:
            got: Sequence[Retrieved] = ()
        elif check.filters and isinstance(retriever, SearchRetriever):  # OpenAI's search
            got = retriever.retrieve(check.query, allowed, check.top_k, check.filters)
        else:
            got = retriever.retrieve(check.query, allowed, check.top_k)
        return evaluate(check, got, documents, labels)

    results = tuple(map_fn(one, checks))
    # Read after the run: an automatic retriever says which retrieval it ended up using.
    return ChecksReport(
        results,
        policy or ChecksPolicy(),
        retriever=retriever.name,
        retriever_note=retriever.note,
    )


def evaluate(
    check: Check,
    retrieved: Sequence[Retrieved | str],
    documents: DocumentSet,
    labels: dict[str, Found],
) -> CheckResult:
    """One check's result from what its retrieval returned (best first; bare ids: no texts)."""
    # Only the agent's documents (those with a label) count, once each, and only the first
    # top_k of them: a retriever that returns more, or others, cannot make a check pass.
    texts: dict[str, tuple[str, ...]] = {}
    for item in retrieved:
        got = item if isinstance(item, Retrieved) else Retrieved(item)
        if got.document_id in labels and got.document_id not in texts:
            texts[got.document_id] = got.texts
    ranked = list(texts)[: check.top_k]
    found = tuple(labels[i] for i in ranked)
    position = {f.key: n for n, f in enumerate(found, start=1) if f.key is not None}
    ranks = tuple((key, position.get(key)) for key in check.expect)
    missing = tuple(key for key in check.expect if key not in documents.by_key)
    text_in = None
    if check.expect_text is not None:
        text_in = next(
            (
                f.key
                for f in found
                if f.key in check.expect and contains_text(texts[f.id], check.expect_text)
            ),
            None,
        )
    return CheckResult(
        check.query,
        check.expect,
        check.top_k,
        found,
        ranks,
        missing,
        expect_text=check.expect_text,
        text_in=text_in,
    )
