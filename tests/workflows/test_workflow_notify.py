"""The workflows and `notify:`: the drift job also runs `kbctl check --detailed-exitcode` for each
environment, reports a check below its threshold the way it reports drift (the issue), and the
manifest's webhook — the reusable workflow's KBCTL_NOTIFY_WEBHOOK secret, given to kbctl under
the variable `notify.webhook_env` names — receives drift, check failures and apply failures.
Run by the fake runner against the embedded emulator; the webhook is a real HTTP server on
127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kbctl.clock import SystemClock
from kbctl.emulator.embedded import open_emulator
from tests.checks.test_notify import Receiver
from tests.workflows.conftest import DOCS, adoption_snippet
from tests.workflows.fake_runner import git
from tests.workflows.test_workflow_runs import (
    DRIFT_MARKER,
    READ_KEY,
    WRITE_PRODUCTION,
    WRITE_STAGING,
    Repo,
    assert_secret_hidden,
    edit_quarter,
    make_repo,
)

NOTIFY = "\nnotify:\n  webhook_env: KBCTL_SLACK_WEBHOOK\n"
POLICY = "checks_policy:\n  min_coverage: 0.8\n"
#: Six checks, each answered at rank 1: one document gone is Coverage@1 5/6 = 83 % < 90 %,
#: while Coverage@k (83 %) still meets min_coverage (80 %).
AT_1 = POLICY + "  min_coverage_at_1: 0.9\n"
KEYS = (READ_KEY, WRITE_STAGING, WRITE_PRODUCTION)


#: The line docs/github-actions.md#notifications adds under the adoption snippet's secrets.
SECRET_LINE = "      KBCTL_NOTIFY_WEBHOOK: ${{ secrets.KBCTL_NOTIFY_WEBHOOK }}\n"


@pytest.fixture
def repo(tmp_path: Path, fake_bin: Path, kbctl_bin: Path) -> Repo:
    assert SECRET_LINE.strip() in DOCS.read_text(encoding="utf-8")
    snippet = adoption_snippet()
    assert snippet.endswith("}}\n") and "    secrets:\n" in snippet
    return make_repo(tmp_path, fake_bin, kbctl_bin, snippet + SECRET_LINE)


@pytest.fixture
def webhook(repo: Repo) -> Iterator[Receiver]:
    receiver = Receiver()
    repo.secrets["KBCTL_NOTIFY_WEBHOOK"] = receiver.url
    yield receiver
    receiver.close()


def notify_in_manifest(repo: Repo) -> str:
    """The example manifest with notify: and a min_coverage_at_1 of 90 %, merged; the new sha."""
    path = "manifests/example.yaml"
    text = git(["show", f"main:{path}"], repo.origin)
    assert POLICY in text
    return repo.commit(path, text.replace(POLICY, AT_1) + NOTIFY, "Alert on Coverage@1")


def detach_by_hand(repo: Repo, agent_id: str, key: str) -> None:
    """Someone removes a document from the agent in the dashboard."""
    app = open_emulator(f"emulator://{repo.emulator}", SystemClock())
    try:
        agent = app.world.agent(agent_id)
        assert agent is not None
        kept = [e for e in agent.knowledge_base if key not in str(e["name"])]
        assert len(kept) == len(agent.knowledge_base) - 1
        app.world.set_knowledge_base(agent_id, kept)
    finally:
        app.close()


def texts(webhook: Receiver) -> list[str]:
    for notice in webhook.received:
        assert set(notice) == {"text"}, notice  # Slack-compatible: a text message
    return [str(notice["text"]) for notice in webhook.received]


def test_drift_job_runs_the_checks_opens_the_issue_and_posts_to_the_webhook(
    repo: Repo,
    webhook: Receiver,
) -> None:
    notify_in_manifest(repo)
    applied = repo.dispatch({"rollback-environment": "", "rollback-to": "previous"})
    assert applied.job("apply-production").result == "success"
    assert webhook.received == []  # nothing failed
    detach_by_hand(repo, "agent_staging", "quarters/mortgage-partners.md")

    run, calls = repo.schedule({"issues": []})
    job = run.job("drift")
    assert job.result == "success", job.log()  # drift and failing checks are reports
    assert job.step("staging").outputs["drift"] == "true"
    staging = job.step("checks-staging")
    assert staging.outputs["status"] == "failing"
    assert staging.outputs["checks-failing"] == "true"
    production = job.step("checks-production")
    assert production.outputs["status"] == "passed", job.log()
    assert production.outputs["checks-failing"] == "false"
    # The step ran the check with --detailed-exitcode (exit 3: below min_coverage_at_1).
    assert "+ kbctl check -e staging --detailed-exitcode --format json" in job.log()
    assert staging.outputs["exit-code"] == "3"

    # One issue, saying both: the drift and the failing check.
    ((method, issue),) = calls
    assert method == "create"
    assert issue["title"] == "kbctl: the live knowledge base drifted from the manifests"
    body = issue["body"]
    assert body.startswith(DRIFT_MARKER)
    assert "**Retrieval checks below a threshold:** staging" in body
    assert "### ❌ staging: retrieval checks below a threshold" in body
    assert "Coverage@1 83% < min_coverage_at_1 90%" in body
    assert "quarters/mortgage-partners.md" in body
    assert "### ✅ production: retrieval checks pass" in body

    # The webhook got the drift notice and the check failure, as Slack text, without keys.
    notices = texts(webhook)
    drift = [t for t in notices if t.startswith("kbctl drift: the live staging")]
    check = [t for t in notices if t.startswith("kbctl check failed for staging")]
    assert len(drift) == 1 and len(check) == 1 and len(notices) == 2, notices
    assert "agent agent_staging: 1 to" in drift[0]
    assert "Coverage@1 83% < min_coverage_at_1 90%" in check[0]
    sent = json.dumps(webhook.received)
    for secret in (*KEYS, webhook.url):
        assert secret not in sent
    assert_secret_hidden(job, *KEYS, webhook.url)


def test_checks_alone_open_the_issue(repo: Repo, webhook: Receiver) -> None:
    notify_in_manifest(repo)
    assert repo.dispatch({"rollback-environment": "", "rollback-to": "previous"}).job(
        "apply-production"
    ).result == ("success")
    # A check that expects the wrong document at rank 1: no drift (checks are not planned).
    path = "manifests/example.yaml"
    text = git(["show", f"main:{path}"], repo.origin)
    extra = (
        "  - query: When will Riverside Park building B be completed?\n"
        "    expect: quarters/old-mill.md   # a mistake: Riverside Park answers it\n"
    )
    repo.commit(path, text.replace("checks:\n", "checks:\n" + extra), "A check that fails")
    run, calls = repo.schedule({"issues": []})
    job = run.job("drift")
    assert job.result == "success", job.log()
    assert job.step("staging").outputs["drift"] == "false"
    assert job.step("checks-staging").outputs["checks-failing"] == "true"
    ((method, issue),) = calls
    assert method == "create"
    assert issue["title"] == "kbctl: the live knowledge base fails its retrieval checks"
    assert [t for t in texts(webhook) if t.startswith("kbctl drift")] == []
    assert any(t.startswith("kbctl check failed for staging") for t in texts(webhook))


def test_a_failed_apply_posts_to_the_webhook(repo: Repo, webhook: Receiver) -> None:
    notify_in_manifest(repo)
    before = repo.head()
    run = repo.merge(
        before,
        edit_quarter(repo),
        emulator_params="index_seconds=0&fail_index_containing=Building C",
    )
    apply = run.job("apply-staging")
    assert apply.result == "failure"
    assert apply.step("apply").outputs["exit-code"] == "3"
    (notice,) = texts(webhook)
    assert notice.startswith("kbctl apply failed for staging")
    for secret in (*KEYS, webhook.url):
        assert secret not in notice
    assert_secret_hidden(apply, *KEYS, webhook.url)
