"""The weekly full rebuild of docs/github-actions.md#weekly-full-rebuild: a second caller whose
schedule runs the reusable workflow with `replace-all: true`, so the merge lane plans with
`--replace-all` and applies exactly that plan (every document uploaded and indexed afresh),
staging before production, instead of the drift check. Run by the fake runner against the
embedded emulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kbctl.clock import SystemClock
from kbctl.emulator.embedded import open_emulator
from tests.workflows.conftest import adoption_snippet
from tests.workflows.fake_runner import WorkflowRun
from tests.workflows.test_workflow_runs import (
    READ_KEY,
    WRITE_PRODUCTION,
    WRITE_STAGING,
    Repo,
    assert_secret_hidden,
    make_repo,
)


def attached(repo: Repo, agent_id: str) -> set[str]:
    app = open_emulator(f"emulator://{repo.emulator}", SystemClock())
    try:
        agent = app.world.agent(agent_id)
        assert agent is not None
        return {str(entry["id"]) for entry in agent.knowledge_base}
    finally:
        app.close()


def rebuild(repo: Repo) -> tuple[WorkflowRun, list[tuple[str, dict[str, Any]]]]:
    """The rebuild caller's Sunday schedule: the run and the GitHub API writes it made."""
    runner = repo.runner("schedule", {"schedule": "30 2 * * 0"}, api={"issues": []})
    return runner.run_workflow(repo.workflow()), runner.api_calls


def test_the_weekly_rebuild_plans_and_applies_with_replace_all(
    tmp_path: Path, fake_bin: Path, kbctl_bin: Path
) -> None:
    repo = make_repo(tmp_path, fake_bin, kbctl_bin, adoption_snippet("rebuild-snippet"))
    first, _ = rebuild(repo)
    assert first.job("apply-production").result == "success"
    staging, production = attached(repo, "agent_staging"), attached(repo, "agent_production")
    assert staging and production

    run, calls = rebuild(repo)
    assert calls == []  # no drift issue: the rebuild runs instead of the drift check
    assert run.job("drift").result == "skipped"
    for env in ("staging", "production"):
        plan = run.job(f"plan-{env}")
        assert plan.result == "success", plan.log()
        assert plan.step("plan").with_["args"] == "--replace-all"
        assert re.search(rf"\+ kbctl plan -e {env} .*--replace-all", plan.log())
        assert plan.step("plan").outputs["status"] == "changes"
        apply = run.job(f"apply-{env}")
        assert apply.result == "success", apply.log()
        assert "replaced" in apply.summary
        assert_secret_hidden(apply, READ_KEY, WRITE_STAGING, WRITE_PRODUCTION)
    # Every document attached now is a new upload: nothing of the old copies is left attached.
    assert not attached(repo, "agent_staging") & staging
    assert not attached(repo, "agent_production") & production
    assert len(attached(repo, "agent_staging")) == len(staging)
