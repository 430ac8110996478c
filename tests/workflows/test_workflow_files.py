"""The GitHub workflows and action.yml: schema-valid (check-jsonschema's vendored GitHub schemas,
offline) and following the rules that keep them safe: no expressions interpolated into scripts,
minimal permissions, pinned actions, per-environment applies that queue instead of cancelling."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.conftest import ACTION, KBCTL_WORKFLOWS, ROOT, WORKFLOWS
from tests.workflows.fake_runner import load_yaml

ALLOWED_ACTIONS = {
    "actions/checkout@v4",
    "actions/setup-python@v5",
    "actions/upload-artifact@v4",
    "actions/github-script@v7",
    "./",
}


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def workflow(name: str) -> dict[str, Any]:
    return load_yaml(WORKFLOWS / name)


def all_steps(data: dict[str, Any]) -> list[dict[str, Any]]:
    if "jobs" in data:
        return [step for job in data["jobs"].values() for step in job.get("steps", [])]
    return list(data["runs"]["steps"])


def test_workflows_pass_the_github_workflows_schema() -> None:
    files = [WORKFLOWS / name for name in KBCTL_WORKFLOWS]
    result = check_jsonschema("vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_passes_the_github_actions_schema() -> None:
    result = check_jsonschema("vendor.github-actions", ACTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    assert check_jsonschema("vendor.github-workflows", broken).returncode != 0


@pytest.mark.parametrize("name", [*KBCTL_WORKFLOWS, "action.yml"])
def test_scripts_never_interpolate_expressions(name: str) -> None:
    data = load_yaml(ACTION) if name == "action.yml" else workflow(name)
    for step in all_steps(data):
        if "run" in step:
            assert "${{" not in step["run"], f"{name}: {step.get('name')}: use env: instead"


@pytest.mark.parametrize("name", [*KBCTL_WORKFLOWS, "action.yml"])
def test_only_pinned_known_actions_are_used(name: str) -> None:
    data = load_yaml(ACTION) if name == "action.yml" else workflow(name)
    for step in all_steps(data):
        if "uses" in step:
            assert step["uses"] in ALLOWED_ACTIONS, step["uses"]


@pytest.mark.parametrize(
    ("name", "permissions"),
    [
        ("kbctl-plan.yml", {"contents": "read", "pull-requests": "write"}),
        ("kbctl-apply.yml", {"contents": "write"}),
        ("kbctl-drift.yml", {"contents": "read", "issues": "write"}),
        ("kbctl-rollback.yml", {"contents": "write"}),
    ],
)
def test_permissions_are_minimal(name: str, permissions: dict[str, str]) -> None:
    data = workflow(name)
    assert data["permissions"] == permissions
    for job in data["jobs"].values():
        assert "permissions" not in job


def test_no_workflow_runs_untrusted_code_with_secrets() -> None:
    for name in KBCTL_WORKFLOWS:
        assert "pull_request_target" not in workflow(name)["on"], name


def test_plan_runs_on_pull_requests_touching_manifests_and_handles_forks() -> None:
    data = workflow("kbctl-plan.yml")
    assert "manifests/**" in data["on"]["pull_request"]["paths"]
    assert data["concurrency"]["cancel-in-progress"] is True
    steps = data["jobs"]["plan"]["steps"]
    source = next(s for s in steps if s.get("id") == "source")
    assert "github.event.pull_request.head.repo.full_name" in source["env"]["HEAD_REPO"]
    commands = [s["with"]["command"] for s in steps if s.get("uses") == "./"]
    assert commands == ["validate", "plan", "plan"]
    # Every step that needs secrets or a write token is skipped for forks.
    for step in steps:
        uses_secrets = "secrets." in str(step.get("env", ""))
        if uses_secrets or step.get("uses") == "actions/github-script@v7":
            assert "steps.source.outputs.fork == 'false'" in step["if"], step.get("name")


def test_apply_goes_staging_then_production_in_queued_environments() -> None:
    data = workflow("kbctl-apply.yml")
    push = data["on"]["push"]
    assert push["branches"] == ["main"]
    assert "state-snapshots/**" in push["paths-ignore"]
    choice = data["on"]["workflow_dispatch"]["inputs"]["environment"]
    assert choice["type"] == "choice"
    staging, production = data["jobs"]["staging"], data["jobs"]["production"]
    assert staging["environment"] == "staging"
    assert production["environment"] == "production"
    assert production["needs"] == "staging"
    for env, job in (("staging", staging), ("production", production)):
        assert job["concurrency"] == {"group": f"kbctl-apply-{env}", "cancel-in-progress": False}
        (apply,) = (s for s in job["steps"] if s.get("uses") == "./")
        assert apply["with"]["command"] == "apply"
        assert apply["with"]["environment"] == env
        assert apply["with"]["commit-snapshots"] == "true"
        assert apply["env"]["ELEVENLABS_API_KEY"] == "${{ secrets.ELEVENLABS_API_KEY }}"
    assert (
        "vars.ELEVENLABS_AGENT_ID_STAGING"
        in staging["steps"][1]["env"]["ELEVENLABS_AGENT_ID_STAGING"]
    )
    assert "vars.ELEVENLABS_AGENT_ID" in production["steps"][1]["env"]["ELEVENLABS_AGENT_ID"]


def test_rollback_shares_the_apply_queue_of_its_environment() -> None:
    data = workflow("kbctl-rollback.yml")
    inputs = data["on"]["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == ["staging", "production"]
    assert inputs["snapshot"]["default"] == "previous"
    job = data["jobs"]["rollback"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"] == {
        "group": "kbctl-apply-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }


def test_drift_runs_daily() -> None:
    data = workflow("kbctl-drift.yml")
    (schedule,) = data["on"]["schedule"]
    minute, hour, *rest = schedule["cron"].split()
    assert rest == ["*", "*", "*"] and minute.isdigit() and hour.isdigit()
    commands = [
        s["with"]["command"] for s in data["jobs"]["drift"]["steps"] if s.get("uses") == "./"
    ]
    assert commands.count("drift") == 2


def test_action_inputs_and_outputs() -> None:
    action = load_yaml(ACTION)
    assert action["runs"]["using"] == "composite"
    assert {"command", "environment", "manifest", "args", "python-version", "kbctl-version"} <= set(
        action["inputs"]
    )
    assert action["inputs"]["python-version"]["default"] == "3.11"
    assert {"exit-code", "plan-json", "plan-markdown", "body"} <= set(action["outputs"])
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            script = re.search(r"scripts/ci/[\w.-]+", step["run"])
            assert script and (ROOT / script.group(0)).is_file()


def test_helper_scripts_are_valid_bash() -> None:
    for script in sorted((ROOT / "scripts" / "ci").glob("*.sh")):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"
