"""The GitHub workflows and action.yml: schema-valid (check-jsonschema's vendored GitHub schemas,
offline) and following the rules that keep them safe: no expressions interpolated into scripts,
least permissions per job, third-party actions pinned by commit SHA, checkouts without kept
credentials, timeouts everywhere, read and write keys under distinct names, apply and rollback
only from the default branch and in lanes that never wait on each other."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.conftest import ACTION, ALL_WORKFLOWS, ROOT, WORKFLOWS, adoption_snippet
from tests.workflows.fake_runner import load_yaml

# owner/repo@<40 hex> # vX[.Y.Z]: the tag may move with Dependabot, the shape may not.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"@[0-9a-f]{40} # v\d+(?:\.\d+)*\s*$")
OWN = "kbctl/kbctl"  # kbctl's own action and workflow, released together (ref-pinned)


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


def sources() -> list[tuple[str, str, dict[str, Any]]]:
    out = [(name, (WORKFLOWS / name).read_text(), workflow(name)) for name in ALL_WORKFLOWS]
    out.append(("action.yml", ACTION.read_text(), load_yaml(ACTION)))
    return out


def test_workflows_and_the_adoption_snippet_pass_the_github_workflows_schema(
    tmp_path: Path,
) -> None:
    snippet = tmp_path / "kbctl.yml"
    snippet.write_text(adoption_snippet())
    rebuild = tmp_path / "kbctl-rebuild.yml"
    rebuild.write_text(adoption_snippet("rebuild-snippet"))
    files = [WORKFLOWS / name for name in ALL_WORKFLOWS] + [snippet, rebuild]
    result = check_jsonschema("vendor.github-workflows", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    dependabot = ROOT / ".github" / "dependabot.yml"
    result = check_jsonschema("vendor.dependabot", dependabot)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_passes_the_github_actions_schema() -> None:
    result = check_jsonschema("vendor.github-actions", ACTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    assert check_jsonschema("vendor.github-workflows", broken).returncode != 0


@pytest.mark.parametrize("name", [*ALL_WORKFLOWS, "action.yml"])
def test_scripts_never_interpolate_expressions(name: str) -> None:
    data = load_yaml(ACTION) if name == "action.yml" else workflow(name)
    for step in all_steps(data):
        if "run" in step:
            assert "${{" not in step["run"], f"{name}: {step.get('name')}: use env: instead"


def test_third_party_actions_are_pinned_by_commit_with_a_version_comment() -> None:
    for name, text, data in sources():
        uses = [s["uses"] for s in all_steps(data) if "uses" in s]
        uses += [j["uses"] for j in data.get("jobs", {}).values() if "uses" in j]
        for ref in uses:
            if ref.startswith("./") or ref.startswith(f"{OWN}@") or ref.startswith(f"{OWN}/"):
                continue
            assert PINNED.match(ref), f"{name}: {ref} is not pinned by commit"
            line = next(line for line in text.splitlines() if ref in line)
            assert VERSION_COMMENT.search(line), f"{name}: {line.strip()} lacks '# vX.Y.Z'"


def test_checkouts_keep_no_credentials() -> None:
    for name, _, data in sources():
        for step in all_steps(data):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, name


def test_every_job_has_a_timeout_and_its_own_least_permissions() -> None:
    for name in ALL_WORKFLOWS:
        data = workflow(name)
        assert data.get("permissions") in ({}, {"contents": "read"}), name
        for job_id, job in data["jobs"].items():
            if "uses" in job:
                continue
            assert isinstance(job.get("timeout-minutes"), int), f"{name}: {job_id}"
            assert "permissions" in job or data["permissions"] == {"contents": "read"}, job_id


def test_no_workflow_runs_untrusted_code_with_secrets() -> None:
    for name in ALL_WORKFLOWS:
        assert "pull_request_target" not in str(workflow(name)["on"]), name


def kbctl_jobs() -> dict[str, Any]:
    jobs: dict[str, Any] = workflow("kbctl.yml")["jobs"]
    return jobs


def secret_names(job: dict[str, Any]) -> set[str]:
    return set(re.findall(r"secrets\.([A-Z0-9_]+)", str(job)))


READ_KEYS = {
    f"{provider}_READ_API_KEY{suffix}"
    for provider in ("ELEVENLABS", "OPENAI")
    for suffix in ("", "_PRODUCTION")
}
WRITE_KEYS = {"ELEVENLABS_WRITE_API_KEY", "OPENAI_WRITE_API_KEY"}
WEBHOOK = "KBCTL_NOTIFY_WEBHOOK"


def test_read_and_write_keys_have_distinct_names_and_jobs() -> None:
    for job_id, job in kbctl_jobs().items():
        names = secret_names(job)
        if job_id.startswith(("apply-", "rollback")):
            assert names == {*WRITE_KEYS, WEBHOOK}, job_id
            assert job["environment"], job_id  # an environment secret, behind its rules
        else:
            assert names <= {*READ_KEYS, WEBHOOK}, job_id
            assert WEBHOOK not in names or job_id == "drift", job_id  # no plan posts
            assert "environment" not in job, job_id


def test_apply_and_rollback_run_only_from_the_default_branch_in_separate_lanes() -> None:
    jobs = kbctl_jobs()
    guard = "github.ref == format('refs/heads/{0}', inputs.default-branch"
    lanes = {}
    for job_id in ("apply-staging", "apply-production", "rollback"):
        job = jobs[job_id]
        assert guard in job["if"], job_id
        assert job["concurrency"]["cancel-in-progress"] is False
        lanes[job_id] = job["concurrency"]["group"]
    assert "-rollback-" in lanes["rollback"]
    assert all("-apply-" in lanes[j] for j in ("apply-staging", "apply-production"))
    assert jobs["plan"]["concurrency"]["cancel-in-progress"] is True


def test_the_required_plan_check_always_runs() -> None:
    snippet = load_yaml_text(adoption_snippet())
    pull_request = snippet["on"]["pull_request"]
    assert "paths" not in pull_request and "paths-ignore" not in pull_request
    assert {"labeled", "unlabeled"} <= set(pull_request["types"])
    plan = kbctl_jobs()["plan"]
    assert plan["name"] == "kbctl plan" and plan["if"] == "github.event_name == 'pull_request'"


def test_the_adoption_snippet_is_about_twenty_lines() -> None:
    lines = [line for line in adoption_snippet().splitlines() if line.strip()]
    assert len(lines) <= 30


def load_yaml_text(text: str) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(text)
    if True in data:
        data["on"] = data.pop(True)
    assert isinstance(data, dict)
    return data


def test_action_inputs_and_outputs() -> None:
    action = load_yaml(ACTION)
    assert action["runs"]["using"] == "composite"
    assert {"command", "environment", "plan-file", "state-branch", "allow-destroy"} <= set(
        action["inputs"]
    )
    assert action["inputs"]["python-version"]["default"] == ""  # the job's Python stays
    assert {"status", "exit-code", "applied", "snapshots-pushed", "body"} <= set(action["outputs"])
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            for script in re.findall(r"scripts/ci/[\w.-]+", step["run"]):
                assert (ROOT / script).is_file()


def test_helper_scripts_are_valid_bash() -> None:
    for script in sorted((ROOT / "scripts" / "ci").glob("*.sh")):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"


def test_zizmor_finds_nothing_in_the_workflows_the_action_or_the_adoption_snippet(
    tmp_path: Path,
) -> None:
    zizmor = shutil.which("zizmor", path=f"{Path(sys.executable).parent}:/usr/bin:/bin")
    if zizmor is None:
        pytest.skip("zizmor is not installed")
    snippet = tmp_path / "repo" / ".github" / "workflows" / "kbctl.yml"
    snippet.parent.mkdir(parents=True)
    snippet.write_text(adoption_snippet())
    (snippet.parent / "kbctl-rebuild.yml").write_text(adoption_snippet("rebuild-snippet"))
    config = ROOT / ".github" / "zizmor.yml"
    for targets in ([ROOT / ".github", ACTION], [snippet.parent]):
        result = subprocess.run(
            [zizmor, "--offline", "--config", str(config), *map(str, targets)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_finds_nothing_in_the_action_scripts() -> None:
    shellcheck = shutil.which("shellcheck", path=f"{Path(sys.executable).parent}:/usr/bin:/bin")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    scripts = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scripts" / "ci").glob("*.sh"))
    result = subprocess.run(
        [shellcheck, "-x", *scripts], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
