"""The action's notify and check helpers on their own (scripts/ci/ci_notify.py, ci_checks.py):
which variables the manifests' `notify.webhook_env` name, the drift notice (Slack text, keys
cut out, never failing the step), and what a `kbctl check --format json` report concludes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.checks.test_notify import Receiver
from tests.workflows.conftest import ROOT


@pytest.fixture
def helpers() -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path.insert(0, str(ROOT / "scripts" / "ci"))
    try:
        import ci_checks
        import ci_notify

        yield ci_notify, ci_checks
    finally:
        sys.path.pop(0)


def manifest(folder: Path, name: str, notify: str | None) -> Path:
    path = folder / name
    text = "version: 1\nproject: demo\ndocuments: []\n"
    if notify is not None:
        text += f"notify:\n  webhook_env: {notify}\n"
    path.write_text(text, encoding="utf-8")
    return path


def test_webhook_variables_are_named_once_and_never_steer_the_job(
    helpers: tuple[ModuleType, ModuleType], tmp_path: Path
) -> None:
    notify, _ = helpers
    files = [
        manifest(tmp_path, "a.yaml", "KBCTL_SLACK_WEBHOOK"),
        manifest(tmp_path, "b.yaml", "KBCTL_SLACK_WEBHOOK"),
        manifest(tmp_path, "c.yaml", "TEAM_HOOK"),
        manifest(tmp_path, "d.yaml", None),
        *(manifest(tmp_path, f"r{i}.yaml", n) for i, n in enumerate(RESERVED)),
    ]
    assert notify.webhook_vars(files) == ["KBCTL_SLACK_WEBHOOK", "TEAM_HOOK"]
    assert notify.webhook_vars([tmp_path / "missing.yaml"]) == []


RESERVED = ("PATH", "KBCTL_DEBUG", "KBCTL_EXE", "ELEVENLABS_API_KEY", "GITHUB_TOKEN", "lower")


def plan(agents: list[dict[str, object]]) -> dict[str, object]:
    return {"environment": "staging", "agents": agents}


def agent(manifest: str, changes: bool, **summary: int) -> dict[str, object]:
    return {
        "manifest": manifest,
        "project": "demo",
        "agent_id": "agent_1",
        "has_changes": changes,
        "summary": summary,
    }


def test_the_drift_notice_names_only_what_drifted(helpers: tuple[ModuleType, ModuleType]) -> None:
    notify, _ = helpers
    notices = notify.drift_notices(
        plan(
            [
                agent("manifests/a.yaml", True, create=1, replace=2),
                agent("manifests/b.yaml", False),
            ]
        ),
        "https://github.com/acme/kb/actions/runs/1",
    )
    assert list(notices) == ["manifests/a.yaml"]
    text = notices["manifests/a.yaml"]
    assert text.startswith("kbctl drift: the live staging knowledge base differs")
    assert "demo agent agent_1: 1 to create, 2 to replace" in text
    assert text.endswith("Workflow run: https://github.com/acme/kb/actions/runs/1")


def test_drift_notices_go_to_each_manifests_webhook_without_secrets(
    helpers: tuple[ModuleType, ModuleType], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notify, _ = helpers
    monkeypatch.chdir(tmp_path)
    manifest(tmp_path, "a.yaml", "HOOK_A")
    manifest(tmp_path, "b.yaml", None)
    manifest(tmp_path, "c.yaml", "HOOK_C")
    secret = "agent_1"  # a key that happens to appear in the text is cut out too
    plan_file = tmp_path / "drift.json"
    drifting = [agent(f"{n}.yaml", True, delete=1) for n in ("a", "b", "c")]
    plan_file.write_text(json.dumps(plan(drifting)), encoding="utf-8")
    receiver = Receiver()
    try:
        lines = notify.notify_drift(
            plan_file,
            {"HOOK_A": receiver.url, "KEY": secret, "HOOK_C": "http://127.0.0.1:9/closed"},
            ["KEY"],
            None,
        )
    finally:
        receiver.close()
    assert lines[0] == "notify: drift notice sent (HOOK_A)"
    assert lines[1].startswith("notify: the drift notice was not delivered: the webhook could")
    assert len(lines) == 2  # b.yaml asks for no notices
    (sent,) = receiver.received
    assert set(sent) == {"text"} and secret not in str(sent["text"])
    assert "demo agent ***: 1 to delete" in str(sent["text"])


def test_a_check_report_says_passed_failing_no_checks_or_error(
    helpers: tuple[ModuleType, ModuleType], tmp_path: Path
) -> None:
    _, checks = helpers
    report = tmp_path / "check.json"
    assert checks.check_result(report, 1).status == "error"  # no report: kbctl failed
    entry = {
        "project": "demo",
        "agent_id": "agent_1",
        "total": 5,
        "passed": 4,
        "coverage_at_1": 0.4,
        "coverage_at_k": 0.8,
        "min_coverage": 0.8,
        "min_coverage_at_1": 0.6,
        "meets": False,
        "retriever": "rag-query",
        "checks": [
            {"query": "q | 1", "expect": ["a.md"], "passed": False, "top1": False, "found": []}
        ],
    }
    report.write_text(json.dumps({"environment": "staging", "agents": [entry]}))
    failing = checks.check_result(report, 3)
    assert (failing.status, failing.failing) == ("failing", True)
    assert failing.message == "demo: Coverage@1 40% < min_coverage_at_1 60%"
    text = checks.markdown("staging", report, 3)
    assert "### ❌ staging: retrieval checks below a threshold" in text
    assert "| q \\| 1 | a.md | nothing |" in text
    assert checks.check_result(report, 0).status == "passed"
    entry["total"] = 0
    report.write_text(json.dumps({"environment": "staging", "agents": [entry]}))
    assert checks.check_result(report, 0).status == "no-checks"
