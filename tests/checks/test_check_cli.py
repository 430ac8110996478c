"""`kbctl check -e ENV` end to end: the CLI, the real provider, the emulator's BM25 search.

The coverage figures are counted by hand from the documents in conftest.py.
"""

from __future__ import annotations

import json

from kbctl.errors import ExitCode
from tests.checks.conftest import CHECKS, Bench

#: CHECKS plus three more, with the rank the expected documents come at (hand-counted):
#:   1 Заречье price          zarechye rank 1            pass, top1
#:   2 Садовый school         sadovy rank 1              pass, top1
#:   3 Riverside building B   riverside rank 1           pass, top1
#:   4 mortgage banks         mortgage rank 1            pass, top1
#:   5 parking?               sadovy rank 2 (Заречье     pass
#:                            says паркинг three times)
#:   6 model of the quarter,  sadovy not in the top 1    FAIL
#:     top_k 1                (Заречье has the макет)
#:   7 parking?               zarechye 1, sadovy 2       pass, top1 (an expected key is first)
#: Coverage@1 = 5/7, Coverage@k = 6/7.
MORE = """\
  - query: Есть ли паркинг?
    expect: docs/sadovy.md
  - query: Где посмотреть макет квартала?
    expect: docs/sadovy.md
    top_k: 1
  - query: Есть ли паркинг?
    expect: [docs/zarechye.md, docs/sadovy.md]
"""


def test_check_prints_the_table_and_hand_counted_coverage(bench: Bench) -> None:
    bench.manifest(checks=CHECKS + MORE, policy="checks_policy:\n  min_coverage: 0.8\n")
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    searches = bench.searches()
    result = bench.run("check", "-e", "staging", "--retriever", "search")
    assert result.exit_code == 0, result.output
    assert bench.searches() == searches + 7  # one search per check
    out = result.output
    assert "Coverage@1 5/7 (71%), Coverage@k 6/7 (86%), min_coverage 80%: met" in out
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert [(row[0], row[-2], row[-1]) for row in rows] == [
        ("1", "3", "pass"),
        ("2", "3", "pass"),
        ("3", "3", "pass"),
        ("4", "3", "pass"),
        ("5", "3", "pass"),
        ("6", "1", "FAIL"),
        ("7", "3", "pass"),
    ]
    assert "#6 retrieved instead: docs/zarechye.md" in out

    data = json.loads(
        bench.run("check", "-e", "staging", "--retriever", "search", "--format", "json").stdout
    )
    (agent,) = data["agents"]
    assert (agent["total"], agent["passed"], agent["top1"]) == (7, 6, 5)
    assert agent["coverage_at_1"] == round(5 / 7, 4)
    assert agent["coverage_at_k"] == round(6 / 7, 4)
    assert agent["meets"] is True
    ranks = [c["ranks"] for c in agent["checks"]]
    assert ranks[4] == {"docs/sadovy.md": 2}
    assert ranks[5] == {"docs/sadovy.md": None}
    assert ranks[6] == {"docs/zarechye.md": 1, "docs/sadovy.md": 2}
    assert [c["top1"] for c in agent["checks"]] == [True] * 4 + [False, False, True]


def test_check_exits_3_below_min_coverage_and_names_the_failing_query(bench: Bench) -> None:
    bench.manifest(checks=CHECKS + MORE, policy="checks_policy:\n  min_coverage: 0.8\n")
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    bench.manifest(checks=CHECKS + MORE, policy="checks_policy:\n  min_coverage: 0.9\n")
    result = bench.run("check", "-e", "staging", "--retriever", "search")
    assert result.exit_code == ExitCode.INDEX_GATE
    assert "min_coverage 90%: NOT met" in result.output
    assert "Error: Retrieval checks below min_coverage for staging" in result.output
    assert "1 of 7 retrieval check(s) failed (Coverage@k 86% < min_coverage 90%)" in result.output
    assert (
        "'Где посмотреть макет квартала?': expected docs/sadovy.md (not in the top 1); "
        "retrieved docs/zarechye.md"
    ) in result.output
    json_run = bench.run("check", "-e", "staging", "--retriever", "search", "--format", "json")
    assert json_run.exit_code == ExitCode.INDEX_GATE
    assert '"meets": false' in json_run.stdout


def test_check_against_an_agent_that_lacks_the_documents(bench: Bench) -> None:
    bench.manifest()
    result = bench.run(
        "check", "-e", "staging", "--retriever", "search"
    )  # never applied: the agent has nothing
    assert result.exit_code == ExitCode.INDEX_GATE
    assert "Coverage@1 0/4 (0%), Coverage@3 0/4 (0%)" in result.output
    assert "not attached" in result.output
    assert bench.searches() == 0  # nothing to retrieve from: no search at all


def test_no_checks_declared_means_no_search(bench: Bench) -> None:
    bench.manifest(checks="")
    bench.run("apply", "-e", "staging", "--auto-approve")
    searches = bench.searches()
    result = bench.run("check", "-e", "staging", "--retriever", "search")
    assert result.exit_code == 0
    assert "No retrieval checks declared." in result.output
    assert bench.searches() == searches


def test_invalid_checks_fail_validate_with_file_and_line(bench: Bench) -> None:
    bench.manifest(
        checks="""\
checks:
  - query: Сколько стоит квадратный метр?
    expect: docs/zarechie.md
  - query: "  "
    expect: docs/sadovy.md
"""
    )
    result = bench.run("validate")
    assert result.exit_code == ExitCode.ERROR
    assert (
        "manifests/kb.yaml:16 at checks[0].expect: expect names unknown document key "
        "'docs/zarechie.md'; did you mean 'docs/zarechye.md'?"
    ) in result.output
    assert "manifests/kb.yaml:17 at checks[1].query: query must not be empty" in result.output
    # An empty query is reported once (by the schema), not twice.
    bench.manifest(checks=CHECKS + '  - query: ""\n    expect: docs/sadovy.md\n')
    result = bench.run("validate")
    assert result.exit_code == ExitCode.ERROR
    assert result.output.count("at checks[4].query:") == 1, result.output
    # A schema error (top_k < 1) is reported on its own line too. (While the file has schema
    # errors, the loader does not judge `expect` keys: the document list may be incomplete.)
    bench.manifest(checks=CHECKS + "    top_k: 0\n")
    result = bench.run("validate")
    assert result.exit_code == ExitCode.ERROR
    assert "manifests/kb.yaml:23 at checks[3].top_k: must be >= 1 (got 0)" in result.output
    assert bench.searches() == 0
