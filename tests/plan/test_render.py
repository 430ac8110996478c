"""Plan renderers: golden files for every case file, colours, and the comment size limit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from kbctl.model import DocumentSpec
from kbctl.plan.planner import make_plan
from kbctl.plan.types import Plan
from kbctl.render.plan_markdown import render_plan_markdown, sticky_marker
from kbctl.render.plan_text import render_plan_text
from tests.plan.builders import build_live, build_target, load_case, spec
from tests.plan.conftest import CASES, case_paths

Golden = Callable[[str, str], None]


def _plan_of(path: Path) -> Plan:
    case = load_case(path)
    return make_plan(case.target.environment, [(case.target, case.live)])


@pytest.mark.parametrize("path", case_paths(), ids=lambda p: p.stem)
def test_text_golden(path: Path, golden: Golden) -> None:
    golden(f"{path.stem}.txt", render_plan_text(_plan_of(path)).plain)


@pytest.mark.parametrize("path", case_paths(), ids=lambda p: p.stem)
def test_markdown_golden(path: Path, golden: Golden) -> None:
    golden(f"{path.stem}.md", render_plan_markdown(_plan_of(path)))


def _two_agents() -> Plan:
    first = load_case(CASES / "unmanaged_kept.yaml")
    second = load_case(CASES / "max_deletes.yaml")
    target = dataclasses.replace(second.target, manifest="manifests/other.yaml", agent_id="agent_2")
    live = dataclasses.replace(
        second.live, agent=dataclasses.replace(second.live.agent, id="agent_2")
    )
    return make_plan("staging", [(target, live), (first.target, first.live)])


def test_two_agents_golden(golden: Golden) -> None:
    plan = _two_agents()
    assert [a.agent_id for a in plan.agents] == ["agent_1", "agent_2"]
    golden("two_agents.txt", render_plan_text(plan).plain)
    golden("two_agents.md", render_plan_markdown(plan))


def test_no_changes_line() -> None:
    text = render_plan_text(_plan_of(CASES / "noop.yaml")).plain
    assert text.endswith("No changes. The knowledge base matches the manifest.\n")
    assert "Plan:" not in text


def test_plan_line_is_last() -> None:
    text = render_plan_text(_plan_of(CASES / "replace.yaml")).plain
    last = text.splitlines()[-1]
    assert last == "Plan: 0 to create, 2 to replace, 0 to update, 0 to delete, 1 unchanged."


def test_text_colours_are_styles() -> None:
    text = render_plan_text(_plan_of(CASES / "unmanaged_kept.yaml"))
    styled = {str(span.style) for span in text.spans}
    assert {"green", "cyan", "red"} <= styled
    assert "\x1b" not in text.plain


def test_empty_plan() -> None:
    plan = make_plan("staging", [])
    assert "No manifest declares this environment." in render_plan_text(plan).plain
    assert render_plan_markdown(plan).startswith(sticky_marker("staging") + "\n")


def _huge_plan(n: int) -> Plan:
    """n documents: a third replaced, a third created (small ones among them), a third deleted."""
    target = build_target({})
    docs: list[DocumentSpec] = []
    live: list[dict[str, object]] = []
    for i in range(n):
        key = f"quarters/region-{i // 100:03d}/quarter-{i:05d}.md"
        if i % 3 == 0:
            docs.append(spec(key, "a1", size=2000 + i))
            live.append({"id": f"doc_{i:05d}", "key": key, "hash": "b2"})
        elif i % 3 == 1:
            docs.append(spec(key, "c3", size=100 if i % 2 else 3000))
        else:
            live.append({"id": f"doc_{i:05d}", "key": key, "hash": "d4"})
    live.append({"id": "hb", "name": "Handbook | with a pipe", "type": "file"})
    target = dataclasses.replace(target, documents=tuple(docs))
    state = build_live({"knowledge_base": live, "quota": {"used": 0, "max": 10**9}})
    return make_plan("staging", [(target, state)])


def test_markdown_stays_under_the_limit_with_10000_documents() -> None:
    plan = _huge_plan(10_000)
    text = render_plan_markdown(plan)
    assert len(text) < 65_000
    assert text.startswith("<!-- kbctl-plan:staging -->\n")
    s = plan.summary
    assert f"**Plan: {s.create} to create, {s.replace} to replace," in text
    assert "| agent | create | replace | update | delete | unchanged | findings |" in text
    assert f"| {s.create} | {s.replace} | {s.update} | {s.delete} | {s.noop} |" in text
    assert "the JSON plan artifact has them all" in text
    assert text.count("<details>") == text.count("</details>") == 1
    # The table is cut between rows, never inside one.
    assert all(line.endswith("|") for line in text.splitlines() if line.startswith("| `"))


@pytest.mark.parametrize("limit", [3_000, 8_000, 20_000])
def test_markdown_respects_any_limit(limit: int) -> None:
    text = render_plan_markdown(_huge_plan(600), limit=limit)
    assert len(text) < limit
    assert "| agent | create |" in text


def test_markdown_cuts_findings_then_agents_when_rows_are_not_enough() -> None:
    huge = _huge_plan(900)
    text = render_plan_markdown(huge, limit=2_000)
    assert len(text) < 2_000
    assert "more finding" in text and "| agent | create |" in text

    case = load_case(CASES / "max_deletes.yaml")
    pairs = [
        (
            dataclasses.replace(case.target, agent_id=f"agent_{i:03d}"),
            dataclasses.replace(
                case.live, agent=dataclasses.replace(case.live.agent, id=f"agent_{i:03d}")
            ),
        )
        for i in range(300)
    ]
    text = render_plan_markdown(make_plan("staging", pairs), limit=3_000)
    assert len(text) < 3_000
    assert "more agents not shown" in text and "**Plan: 0 to create, 300 to replace," in text


def test_markdown_last_resort_cut() -> None:
    plan = _huge_plan(30)
    text = render_plan_markdown(plan, limit=300)
    assert len(text) < 300
    assert text.startswith("<!-- kbctl-plan:staging -->")


def test_markdown_escapes_keys_and_names() -> None:
    target = build_target(
        {"documents": [{"key": "odd|key`with<html>", "hash": "a1"}], "project": "birby"}
    )
    live = build_live(
        {"knowledge_base": [{"id": "x", "name": "<script>|", "type": "text", "usage": "auto"}]}
    )
    text = render_plan_markdown(make_plan("staging", [(target, live)]))
    assert "<script>" not in text and "&lt;script&gt;\\|" in text
    assert "`` odd\\|key`with<html> ``" in text


def test_reindex_lines_for_model_change() -> None:
    text = render_plan_text(_plan_of(CASES / "model_change.yaml")).plain
    assert "↻ a.md" in text and "needs a new index for multilingual_e5_large_instruct" in text
    assert "Also: 1 RAG setting to change." in text
    assert "1 to reindex, 1 unchanged." in text


def _with_diffs(plan: Plan) -> Plan:
    """Every replace carries a 30-line diff, as `kbctl plan` attaches them."""
    from kbctl.contentdiff import unified_diff
    from kbctl.plan.types import ReplaceDocument

    before = "\n".join(f"line {i} of the quarter" for i in range(30))
    after = before.replace("line 7 of", "line seven of")
    agents = []
    for agent in plan.agents:
        changes = tuple(
            dataclasses.replace(c, diff=unified_diff(before, after, c.key))
            if isinstance(c, ReplaceDocument)
            else c
            for c in agent.changes
        )
        agents.append(dataclasses.replace(agent, changes=changes))
    return dataclasses.replace(plan, agents=tuple(agents))


def test_markdown_with_diffs_stays_under_the_limit_with_10000_documents() -> None:
    plan = _with_diffs(_huge_plan(10_000))
    text = render_plan_markdown(plan)
    assert len(text) < 65_000
    assert "content diffs not shown" in text  # diff blocks are the first thing to go
    assert text.count("<details>") == text.count("</details>")


def test_markdown_keeps_the_diffs_that_fit_and_counts_the_others() -> None:
    plan = _with_diffs(_huge_plan(300))
    text = render_plan_markdown(plan)
    assert len(text) < 65_000
    assert "_… not shown:" not in text  # every change row is kept; only diffs are cut
    shown = text.count("```diff\n")
    assert 0 < shown < plan.summary.replace
    assert f"{plan.summary.replace - shown} content diffs not shown" in text
    assert text.count("<details>") == text.count("</details>")


def test_markdown_shows_every_diff_when_they_fit() -> None:
    plan = _with_diffs(_huge_plan(9))
    text = render_plan_markdown(plan)
    assert text.count("```diff\n") == plan.summary.replace == 3
    assert "-line 7 of the quarter" in text and "+line seven of the quarter" in text
    assert "not shown" not in text
