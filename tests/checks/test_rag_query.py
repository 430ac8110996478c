"""`kbctl check` on the agent's own retrieval (rag-query), its fallback to the content search,
`expect_text`, `min_coverage_at_1` and `--detailed-exitcode`, end to end against the emulator
through the real client."""

from __future__ import annotations

import dataclasses
import json

from kbctl.checks import RagQueryRetriever
from kbctl.errors import ExitCode
from kbctl.provider.base import RagChunk
from tests.checks.conftest import CHECKS, SEARCH, Bench

RAG_QUERY = "POST /v1/convai/agents/{agent_id}/knowledge-base/rag-query"

#: Zarechye mentions parking most, but the emulator's agent retrieval ranks Садовый first:
#: the check passes within top_k 3, but not at rank 1.
SECOND = "  - query: Есть ли паркинг?\n    expect: docs/zarechye.md\n"


def _json(bench: Bench, *args: str) -> dict[str, object]:
    result = bench.run("check", "-e", "staging", "--format", "json", *args)
    agent = json.loads(result.stdout)["agents"][0]
    assert isinstance(agent, dict)
    return agent


def test_check_uses_the_agents_rag_query_by_default(bench: Bench) -> None:
    bench.manifest()
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    searches, queries = bench.searches(), bench.world.calls[RAG_QUERY]
    agent = _json(bench)
    assert agent["retriever"] == "rag-query"
    assert agent["retriever_note"] is None
    assert (agent["passed"], agent["total"]) == (4, 4)
    assert bench.world.calls[RAG_QUERY] == queries + 4  # one rag-query per check
    assert bench.searches() == searches  # and no content search
    text = bench.run("check", "-e", "staging")
    assert text.exit_code == 0, text.output
    assert "(retriever: rag-query)" in text.output


def test_auto_falls_back_to_the_search_with_a_note_when_rag_query_is_missing(
    bench: Bench,
) -> None:
    bench.manifest()
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    bench.world.config = dataclasses.replace(bench.world.config, no_rag_query=True)
    searches = bench.searches()
    agent = _json(bench)
    assert agent["retriever"] == "search"
    assert "HTTP 404" in str(agent["retriever_note"])
    assert (agent["passed"], agent["total"]) == (4, 4)
    assert bench.searches() == searches + 4
    text = bench.run("check", "-e", "staging")
    assert text.exit_code == 0, text.output
    assert "(retriever: search)" in text.output
    assert "Note: rag-query is not available here (HTTP 404)" in text.output
    forced = bench.run("check", "-e", "staging", "--retriever", "rag-query")
    assert forced.exit_code == ExitCode.ERROR
    assert "Error: rag-query is not available here (HTTP 404)" in forced.output
    assert "POST /v1/convai/agents/agent_staging/knowledge-base/rag-query" in forced.output
    assert "Hint: Use --retriever search, or --retriever auto" in forced.output


def test_expect_text_passes_only_when_a_retrieved_chunk_of_an_expected_document_has_it(
    bench: Bench,
) -> None:
    checks = (
        CHECKS
        + "  - query: Сколько стоит квадратный метр в ЖК «Заречье»?\n"
        + "    expect: docs/zarechye.md\n"
        + '    expect_text: "165   000 ₽"\n'  # runs of whitespace and case are ignored
        + "  - query: Сколько стоит квадратный метр в ЖК «Заречье»?\n"
        + "    expect: docs/zarechye.md\n"
        + '    expect_text: "999 000 ₽"\n'
    )
    bench.manifest(checks=checks, policy="checks_policy:\n  min_coverage: 0.8\n")
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    agent = _json(bench)
    found, missing = agent["checks"][4], agent["checks"][5]  # type: ignore[index]
    assert (found["passed"], found["text_found_in"]) == (True, "docs/zarechye.md")
    assert found["ranks"] == {"docs/zarechye.md": 1}
    assert (missing["passed"], missing["text_found_in"]) == (False, None)
    assert missing["ranks"] == {"docs/zarechye.md": 1}  # found, but not saying that
    text = bench.run("check", "-e", "staging")
    assert text.exit_code == 0, text.output  # 5 of 6 pass: min_coverage 0.8 is met
    assert "#5 expect_text '165   000 ₽': found in docs/zarechye.md" in text.output
    assert "#6 expect_text '999 000 ₽': NOT found" in text.output
    strict = bench.run("check", "-e", "staging", "--detailed-exitcode")
    assert strict.exit_code == 0, strict.output
    bench.manifest(checks=checks)  # min_coverage 1.0
    failing = bench.run("check", "-e", "staging")
    assert failing.exit_code == ExitCode.INDEX_GATE
    assert "no retrieved text of an expected document contains '999 000 ₽'" in failing.output


def test_min_coverage_at_1_exits_3_only_with_detailed_exitcode(bench: Bench) -> None:
    policy = "checks_policy:\n  min_coverage: 0.8\n  min_coverage_at_1: 0.9\n"
    bench.manifest(checks=CHECKS + SECOND, policy=policy)
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    agent = _json(bench)
    assert (agent["passed"], agent["top1"], agent["total"]) == (5, 4, 5)
    assert agent["min_coverage_at_1"] == 0.9
    assert (agent["meets_min_coverage"], agent["meets_min_coverage_at_1"]) == (True, False)
    plain = bench.run("check", "-e", "staging")
    assert plain.exit_code == 0, plain.output  # plain check: exit 3 below min_coverage only
    assert "Coverage@1 80% < min_coverage_at_1 90%" in plain.output
    assert "--detailed-exitcode exits 3 for this" in plain.output
    detailed = bench.run("check", "-e", "staging", "--detailed-exitcode")
    assert detailed.exit_code == ExitCode.INDEX_GATE, detailed.output
    assert "Retrieval checks below a threshold for staging" in detailed.output
    assert "Coverage@1 80% < min_coverage_at_1 90%" in detailed.output
    bench.manifest(checks=CHECKS + SECOND, policy=policy.replace("0.9", "0.8"))
    assert bench.run("check", "-e", "staging", "--detailed-exitcode").exit_code == 0


def test_min_coverage_at_1_stops_apply_like_min_coverage(bench: Bench) -> None:
    # Before the swap the agent does not have the documents yet, so the gate of a direct
    # rollout ranks with the content search, which puts Заречье first for parking.
    second = "  - query: Есть ли паркинг?\n    expect: docs/sadovy.md\n"
    policy = "checks_policy:\n  min_coverage: 0.8\n  min_coverage_at_1: 0.9\n"
    bench.manifest(checks=CHECKS + second, policy=policy)
    result = bench.run("apply", "-e", "staging", "--auto-approve")
    assert result.exit_code == ExitCode.INDEX_GATE, result.output
    assert "Coverage@1 80% < min_coverage_at_1 90%" in result.output
    assert bench.kb_ids() == []  # the agent was not changed


class _Chunks:
    """A rag-query answer from a table: the chunks, best first."""

    def __init__(self, chunks: list[RagChunk]) -> None:
        self.chunks = chunks
        self.branches: list[str | None] = []

    def rag_query(
        self, agent_id: str, query: str, *, branch_id: str | None = None
    ) -> tuple[RagChunk, ...]:
        self.branches.append(branch_id)
        return tuple(self.chunks)


def test_a_documents_rank_is_the_rank_of_its_best_chunk() -> None:
    api = _Chunks(
        [
            RagChunk("b", "B", "c1", "b first"),
            RagChunk("x", "not the agent's", "c2", "x"),
            RagChunk("a", "A", "c3", "a first"),
            RagChunk("b", "B", "c4", "b second"),
            RagChunk("c", "C", "c5", "c"),
        ]
    )
    retriever = RagQueryRetriever(api, "agent", branch_id="br")
    got = retriever.retrieve("q", frozenset({"a", "b", "c"}), 2)
    assert [(r.document_id, r.texts) for r in got] == [
        ("b", ("b first", "b second")),
        ("a", ("a first",)),
    ]
    assert api.branches == ["br"]
    assert SEARCH  # the content search is another retriever's business


def test_apply_checks_with_the_search_before_a_direct_swap_and_rag_query_after(
    bench: Bench,
) -> None:
    bench.manifest()
    result = bench.run("apply", "-e", "staging", "--auto-approve")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    before = next(line for line in lines if "retrieval checks before the swap" in line)
    after = next(line for line in lines if "retrieval checks after the swap" in line)
    assert before.endswith("(retriever: search)")
    assert after.endswith("(retriever: rag-query)")
