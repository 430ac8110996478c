"""The pure evaluation: ranks, pass/fail, Coverage@1 and Coverage@k, judged by the policy.

A fake retriever (a table of answers that records what it was asked), never a mock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from kbctl.checks import (
    ChecksReport,
    DocumentSet,
    SearchRetriever,
    report_from_dict,
    report_to_dict,
    run_checks,
)
from kbctl.checks.gate import CheckStage, checks_gate_error, warning_text
from kbctl.checks.retriever import Retrieved
from kbctl.model import Check, ChecksPolicy
from kbctl.provider.base import SearchHit


class FakeRetriever:
    """Answers each query from a table (best first), as a real retriever would: only allowed
    ids, at most top_k of them. Records every call."""

    name = "search"
    note = None

    def __init__(self, answers: Mapping[str, Sequence[str]], *, obedient: bool = True) -> None:
        self.answers = answers
        self.obedient = obedient
        self.calls: list[tuple[str, frozenset[str], int]] = []

    def retrieve(
        self, query: str, allowed_ids: frozenset[str], top_k: int
    ) -> tuple[Retrieved, ...]:
        self.calls.append((query, allowed_ids, top_k))
        ids = list(self.answers.get(query, ()))
        if self.obedient:
            ids = [i for i in ids if i in allowed_ids][:top_k]
        return tuple(Retrieved(i) for i in ids)


DOCS = DocumentSet(
    {"a.md": "id_a", "b.md": "id_b", "c.md": "id_c", "d.md": "id_d"},
    {"id_x": "Hand-written FAQ"},
)


def test_hand_counted_coverage() -> None:
    checks = [
        Check("q1", ("a.md",)),  # rank 1: pass, top1
        Check("q2", ("b.md",)),  # rank 2: pass, not top1
        Check("q3", ("c.md",), top_k=1),  # rank 2 with top_k 1: fail
        Check("q4", ("a.md", "d.md")),  # ranks 3 and 1: pass, top1 (d.md is expected)
        Check("q5", ("b.md",)),  # nothing retrieved: fail
    ]
    retriever = FakeRetriever(
        {
            "q1": ["id_a", "id_b", "id_c"],
            "q2": ["id_x", "id_b"],
            "q3": ["id_a", "id_c"],
            "q4": ["id_d", "id_x", "id_a"],
        }
    )
    report = run_checks(checks, DOCS, retriever, policy=ChecksPolicy(min_coverage=0.6))
    assert [r.passed for r in report.results] == [True, True, False, True, False]
    assert [r.top1 for r in report.results] == [True, False, False, True, False]
    assert report.results[3].ranks == (("a.md", 3), ("d.md", 1))
    assert report.results[2].ranks == (("c.md", None),)
    assert (report.total, report.passed, report.top1) == (5, 3, 2)
    assert report.coverage_at_1 == pytest.approx(2 / 5)
    assert report.coverage_at_k == pytest.approx(3 / 5)
    assert report.meets  # 3 of 5 reach 0.6 exactly
    assert [f.label for f in report.results[1].found] == ["Hand-written FAQ", "b.md"]
    assert report.results[1].found[0].key is None  # unmanaged: retrievable, never expected
    # One retrieval per check, each restricted to the agent's documents, with its own top_k.
    assert [(q, k) for q, _, k in retriever.calls] == [
        ("q1", 3),
        ("q2", 3),
        ("q3", 1),
        ("q4", 3),
        ("q5", 3),
    ]
    assert all(allowed == DOCS.allowed_ids for _, allowed, _ in retriever.calls)
    assert report.coverage_line() == (
        "Coverage@1 2/5 (40%), Coverage@k 3/5 (60%), min_coverage 60%: met (retriever: search)"
    )


@pytest.mark.parametrize(
    ("passed", "total", "min_coverage", "meets"),
    [
        (4, 5, 0.8, True),  # 0.8 * 5 is 4.000000000000001 in floats: still 4 needed
        (3, 5, 0.8, False),
        (5, 6, 0.8, True),
        (2, 3, 1.0, False),
        (0, 3, 0.0, True),
        (0, 0, 1.0, True),  # no checks: nothing to fail
    ],
)
def test_min_coverage_is_a_share_of_passing_checks(
    passed: int, total: int, min_coverage: float, meets: bool
) -> None:
    checks = [Check(f"q{i}", ("a.md",)) for i in range(total)]
    answers = {f"q{i}": ["id_a"] if i < passed else ["id_b"] for i in range(total)}
    report = run_checks(
        checks, DOCS, FakeRetriever(answers), policy=ChecksPolicy(min_coverage=min_coverage)
    )
    assert report.passed == passed
    assert report.meets is meets


def test_a_retriever_cannot_make_a_check_pass_with_documents_the_agent_lacks() -> None:
    retriever = FakeRetriever({"q": ["id_gone", "id_b", "id_b", "id_c", "id_a"]}, obedient=False)
    (result,) = run_checks([Check("q", ("a.md",))], DOCS, retriever).results
    assert [f.id for f in result.found] == ["id_b", "id_c", "id_a"]  # deduplicated, then top 3
    assert result.ranks == (("a.md", 3),)


def test_an_expected_key_the_agent_does_not_have_is_named_missing() -> None:
    report = run_checks([Check("q", ("a.md", "gone.md"))], DOCS, FakeRetriever({"q": ["id_a"]}))
    (result,) = report.results
    assert not result.passed
    assert result.missing == ("gone.md",)
    assert "gone.md (not attached to the agent)" in result.describe()
    assert "a.md (rank 1)" in result.describe()


def test_no_checks_no_retrievals() -> None:
    retriever = FakeRetriever({})
    report = run_checks([], DOCS, retriever)
    assert report.total == 0 and report.meets
    assert report.coverage_at_1 == report.coverage_at_k == 1.0
    assert retriever.calls == []


def test_map_fn_runs_the_retrievals_and_keeps_manifest_order() -> None:
    seen: list[str] = []

    def backwards(fn, items):  # type: ignore[no-untyped-def]
        items = list(items)
        results = {id(c): fn(c) for c in reversed(items)}
        seen.extend(c.query for c in reversed(items))
        return iter([results[id(c)] for c in items])

    checks = [Check("q1", ("a.md",)), Check("q2", ("b.md",))]
    report = run_checks(checks, DOCS, FakeRetriever({"q1": ["id_a"]}), map_fn=backwards)
    assert seen == ["q2", "q1"]
    assert [r.query for r in report.results] == ["q1", "q2"]


def test_report_json_round_trips() -> None:
    checks = [Check("Сколько стоит м²?", ("a.md", "b.md"), top_k=2), Check("q2", ("c.md",))]
    report = run_checks(
        checks,
        DOCS,
        FakeRetriever({"Сколько стоит м²?": ["id_x", "id_a"], "q2": ["id_c"]}),
        policy=ChecksPolicy(min_coverage=0.5, on_failure="warn"),
    )
    data = report_to_dict(report)
    assert data["coverage_at_1"] == 0.5 and data["coverage_at_k"] == 0.5
    assert data["meets"] is True
    assert report_from_dict(data) == report
    with pytest.raises(ValueError, match=r"checks\.checks\[0\]\.top_k"):
        broken = report_to_dict(report)
        broken["checks"][0]["top_k"] = "3"  # type: ignore[index]
        report_from_dict(broken)


def test_gate_messages_name_every_failing_query() -> None:
    checks = [Check("where is the pool", ("a.md",)), Check("q2", ("b.md",))]
    report = run_checks(checks, DOCS, FakeRetriever({"where is the pool": ["id_c", "id_x"]}))
    assert report == ChecksReport(report.results, ChecksPolicy())
    err = checks_gate_error("demo/local (agent a)", report, deleted=2, cleanup_problems=[])
    assert err.exit_code == 3
    assert "2 of 2 retrieval check(s) failed (Coverage@3 0% < min_coverage 100%)" in err.summary
    detail = err.detail or ""
    assert "'where is the pool': expected a.md (not in the top 3); retrieved c.md, " in detail
    assert "Hand-written FAQ" in detail
    assert "'q2': expected b.md (not in the top 3); retrieved nothing" in detail
    assert "agent was not changed; the 2 document(s) this run created were deleted" in (
        err.hint or ""
    )
    assert "switched anyway" in warning_text(CheckStage.BEFORE_SWAP, report)
    assert warning_text(CheckStage.AFTER_SWAP, report).startswith("after the swap, 2 of 2")


class FakeSearch:
    """A workspace-wide search answer: `ranking` best first; records each `limit` asked."""

    def __init__(self, ranking: Sequence[str]) -> None:
        self.ranking = ranking
        self.limits: list[int] = []

    def search(self, query: str, limit: int) -> tuple[SearchHit, ...]:
        self.limits.append(limit)
        return tuple(SearchHit(i, i, 1.0) for i in self.ranking[:limit])


def test_search_retriever_filters_client_side_and_keeps_the_api_order() -> None:
    search = FakeSearch(["o1", "b", "o2", "a", "b", "c", "d"])
    retriever = SearchRetriever(search)
    got = retriever.retrieve("q", frozenset({"a", "b", "c", "d"}), 3)
    assert [r.document_id for r in got] == ["b", "a", "c"]
    assert search.limits == [100]  # one page was enough (and the results ran out)


def test_search_retriever_asks_for_more_until_it_has_top_k_of_the_agents() -> None:
    ranking = [f"other{i:04d}" for i in range(900)] + ["mine1", "mine2"]
    search = FakeSearch(ranking)
    retriever = SearchRetriever(search, first_limit=100, max_results=3200)
    got = retriever.retrieve("q", frozenset({"mine1", "mine2"}), 2)
    assert [r.document_id for r in got] == ["mine1", "mine2"]
    assert search.limits == [100, 400, 1600]
    capped = FakeSearch(ranking)
    assert SearchRetriever(capped, max_results=500).retrieve("q", frozenset({"mine1"}), 1) == ()
    assert capped.limits == [100, 400, 500]  # gives up at max_results: not retrieved


def test_search_retriever_makes_no_call_for_an_empty_document_set() -> None:
    search = FakeSearch(["a"])
    assert SearchRetriever(search).retrieve("q", frozenset(), 3) == ()
    assert search.limits == []
