"""The sticky pull-request comment stays under GitHub's limit and still shows the summary, for one
environment (kbctl's Markdown renderer) and for all of them together (scripts/ci/kbctl_ci.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from kbctl.model import DocType, KbEntry, Policy, UsageMode
from kbctl.plan.planfile import dumps
from kbctl.plan.types import (
    AgentPlan,
    CreateDocument,
    DeleteDocument,
    Deletion,
    DocumentChange,
    Finding,
    Plan,
    Severity,
)
from kbctl.render.plan_markdown import render_plan_markdown
from tests.workflows.conftest import ROOT

HELPER = ROOT / "scripts" / "ci" / "kbctl_ci.py"
LIMIT = 65_000


def big_plan(environment: str, documents: int = 10_000, findings: int = 300) -> Plan:
    """A plan creating `documents` documents and deleting a few, with findings."""
    changes: list[DocumentChange] = []
    for i in range(documents):
        key = f"kb/section-{i // 100:03d}/document-with-a-long-descriptive-name-{i:05d}.md"
        changes.append(
            CreateDocument(
                key=key,
                doc_type=DocType.TEXT,
                name=f"{key} · kbctl:acme-support/{environment} · {i:012x}",
                usage_mode=UsageMode.AUTO,
                content_hash=f"{i:064x}",
                size_bytes=2_000 + i,
                needs_index=True,
            )
        )
    deletions = tuple(
        Deletion(id=f"old{i}", name=f"old-{i}", key=f"old-{i}.md", reason="removed")
        for i in range(5)
    )
    changes += [
        DeleteDocument(
            key=d.key,
            doc_type=DocType.TEXT,
            size_bytes=None,
            live_id=d.id,
            live_name=d.name,
        )
        for d in deletions
    ]
    predicted = tuple(
        Finding(
            code="small_document",
            severity=Severity.WARNING,
            message=f"tiny-{i}.md: 120 bytes < 500: attached with usage_mode prompt",
            key=f"tiny-{i}.md",
        )
        for i in range(findings)
    )
    agent = AgentPlan(
        manifest="manifests/support.yaml",
        project="acme-support",
        environment=environment,
        agent_id=f"agent_{environment}",
        fingerprint="f" * 64,
        embedding_model="multilingual_e5_large_instruct",
        changes=tuple(changes),
        rag_changes=(),
        orphans=(),
        unmanaged=(
            KbEntry(id="hand1", name="hand-made", doc_type=DocType.URL, usage_mode=UsageMode.AUTO),
        ),
        knowledge_base=(),
        deletions=deletions,
        findings=predicted,
        protect=False,
        policy=Policy(),
    )
    return Plan(environment=environment, agents=(agent,))


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {env: big_plan(env) for env in ("staging", "production")}


def test_markdown_of_10000_documents_fits_a_comment_and_shows_the_summary(
    plans: dict[str, Plan],
) -> None:
    markdown = render_plan_markdown(plans["staging"])
    assert len(markdown) < LIMIT
    assert "<!-- kbctl-plan:staging -->" in markdown
    assert "10000 to create" in markdown.replace(",", "")
    assert "5 to delete" in markdown


def write_env(out_dir: Path, kind: str, env: str, plan: Plan, code: int) -> None:
    base = out_dir / f"{kind}-{env}"
    base.with_suffix(".md").write_text(render_plan_markdown(plan), encoding="utf-8")
    base.with_suffix(".json").write_text(dumps(plan), encoding="utf-8")
    base.with_suffix(".exit").write_text(f"{code}\n", encoding="utf-8")
    base.with_suffix(".err").write_text("", encoding="utf-8")
    with (out_dir / f"{kind}-environments").open("a", encoding="utf-8") as f:
        f.write(env + "\n")


def body(out_dir: Path, kind: str = "plan", **env: str) -> str:
    result = subprocess.run(
        [sys.executable, str(HELPER), "body", "--kind", kind, "--out-dir", str(out_dir)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    return result.stdout


def test_comment_for_every_environment_of_10000_documents_fits_and_shows_summaries(
    tmp_path: Path, plans: dict[str, Plan]
) -> None:
    for env, plan in plans.items():
        write_env(tmp_path, "plan", env, plan, 2)
    text = body(
        tmp_path,
        GITHUB_RUN_ID="99",
        GITHUB_REPOSITORY="acme/kb",
        GITHUB_SHA="0123456789abcdef0123",
    )
    assert len(text) < LIMIT
    assert text.startswith("<!-- kbctl-plan -->\n")
    assert "commit `0123456789ab`" in text
    for env in plans:
        assert f"<!-- kbctl-plan:{env} -->" in text
    # Both plans do not fit together: their details give way, their summaries stay, with a
    # pointer to the run.
    assert text.count("**Plan: 10000 to create, 0 to replace, 0 to update, 5 to delete") == 2
    assert "do not fit in this comment" in text
    assert "https://github.com/acme/kb/actions/runs/99" in text


def test_small_plans_are_shown_in_full(tmp_path: Path) -> None:
    for env in ("staging", "production"):
        write_env(tmp_path, "plan", env, big_plan(env, documents=3, findings=2), 2)
    text = body(tmp_path)
    assert "too long" not in text
    for env in ("staging", "production"):
        assert render_plan_markdown(big_plan(env, 3, 2)).strip() in text


def test_a_failed_environment_shows_its_error_without_secrets_leaking_other_plans(
    tmp_path: Path,
) -> None:
    write_env(tmp_path, "plan", "staging", big_plan("staging", documents=2), 2)
    (tmp_path / "plan-production.exit").write_text("1\n")
    (tmp_path / "plan-production.err").write_text(
        "Error: API key rejected\n  the API answered 401\nHint: check ELEVENLABS_API_KEY\n"
    )
    with (tmp_path / "plan-environments").open("a") as f:
        f.write("production\n")
    text = body(tmp_path)
    assert "### ❌ production: kbctl plan failed (exit 1)" in text
    assert "Error: API key rejected" in text
    assert "<!-- kbctl-plan:staging -->" in text


def test_drift_body_has_its_own_marker(tmp_path: Path) -> None:
    write_env(tmp_path, "drift", "staging", big_plan("staging", documents=2), 2)
    text = body(tmp_path, kind="drift")
    assert text.startswith("<!-- kbctl-drift -->\n## kbctl drift")
    assert "<!-- kbctl-plan -->" not in text


def write_check(out_dir: Path, env: str, code: int, total: int, meets: bool) -> None:
    entry = {
        "project": "demo",
        "agent_id": f"agent_{env}",
        "total": total,
        "passed": total - (0 if meets else 1),
        "coverage_at_1": 1.0 if meets else 0.5,
        "coverage_at_k": 1.0,
        "min_coverage": 0.8,
        "min_coverage_at_1": 0.6,
        "meets": meets,
        "retriever": "rag-query",
        "checks": [],
    }
    base = out_dir / f"check-{env}"
    report = {"environment": env, "agents": [entry]}
    base.with_suffix(".json").write_text(json.dumps(report), encoding="utf-8")
    base.with_suffix(".exit").write_text(f"{code}\n", encoding="utf-8")
    with (out_dir / "check-environments").open("a", encoding="utf-8") as f:
        f.write(env + "\n")


def test_drift_body_reports_failing_checks_and_leaves_out_environments_without_any(
    tmp_path: Path,
) -> None:
    for env in ("staging", "production", "qa"):
        write_env(tmp_path, "drift", env, big_plan(env, documents=2), 0)
    write_check(tmp_path, "staging", 3, 4, meets=False)
    write_check(tmp_path, "production", 0, 4, meets=True)
    write_check(tmp_path, "qa", 0, 0, meets=True)
    text = body(tmp_path, kind="drift")
    assert "**Retrieval checks below a threshold:** staging" in text
    assert "### ❌ staging: retrieval checks below a threshold" in text
    assert "Coverage@1 50% < min_coverage_at_1 60%" in text
    assert "### ✅ production: retrieval checks pass" in text
    assert "<!-- kbctl-check:qa -->" not in text  # no checks declared: nothing to say
    assert planned_environments(text) == ["staging", "production", "qa"]


def planned_environments(text: str) -> list[str]:
    """The environments whose plan the body shows, in order."""
    return re.findall(r"<!-- kbctl-plan:([a-z]+) -->", text)


def test_pull_request_head_commit_is_named(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"sha": "feedfacecafebeef"}}}))
    write_env(tmp_path, "plan", "staging", big_plan("staging", documents=1), 0)
    text = body(tmp_path, GITHUB_EVENT_PATH=str(event), GITHUB_SHA="mergecommit")
    assert "commit `feedfacecafe`" in text


def test_plan_annotations_helper_places_findings_and_reads_older_plans(tmp_path: Path) -> None:
    plan = big_plan("staging", documents=1, findings=2)
    agent = plan.agents[0]
    placed = (replace(agent.findings[0], file=agent.manifest, line=9), agent.findings[1])
    path = tmp_path / "plan.json"
    path.write_text(dumps(replace(plan, agents=(replace(agent, findings=placed),))))
    run = [sys.executable, str(HELPER), "plan-annotations", str(path)]
    lines = subprocess.run(run, capture_output=True, text=True, check=True).stdout.splitlines()
    assert lines[0].startswith("::warning file=manifests/support.yaml,line=9,title=kbctl plan")
    assert lines[1].startswith("::warning file=manifests/support.yaml,title=kbctl plan")
    # A plan file of an older kbctl has no `file`/`line`: the agent's manifest, no line.
    data = json.loads(path.read_text())
    for finding in data["agents"][0]["findings"]:
        del finding["file"], finding["line"]
    path.write_text(json.dumps(data))
    lines = subprocess.run(run, capture_output=True, text=True, check=True).stdout.splitlines()
    assert [line.split("::")[1] for line in lines] == [
        "warning file=manifests/support.yaml,title=kbctl plan staging"
    ] * 2
