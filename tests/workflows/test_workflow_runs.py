"""The workflows, run step by step by a fake runner (tests/workflows/fake_runner.py) against the
embedded emulator: every `run:` script of the workflows and of action.yml executes with bash, in
order, in a clone of a throwaway repository, with the GITHUB_* files a real runner provides.
Third-party actions are not run; their inputs are checked (and github-script's script is run with
node against a fake GitHub API, when node is installed)."""

from __future__ import annotations

import glob
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.conftest import WORKFLOWS
from tests.workflows.fake_runner import FakeRunner, JobResult, WorkflowRun, git, make_origin

SECRET = "sk_test_9f8e7d6c5b4a_do_not_print"
SECRET_STAGING = "sk_test_staging_3a2b1c_do_not_print"
HARNESS = Path(__file__).with_name("github_script_harness.js")
PLAN_MARKER = "<!-- kbctl-plan -->"
DRIFT_MARKER = "<!-- kbctl-drift -->"


@dataclass
class Repo:
    """A throwaway repository (bare origin), the emulator behind it, and a runner factory."""

    tmp: Path
    origin: Path
    sha: str
    emulator: Path
    path_prefix: list[Path]
    pip_log: Path

    def runner(
        self,
        event_name: str,
        event: dict[str, Any],
        *,
        inputs: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
        emulator_params: str = "index_seconds=0",
        sha: str | None = None,
        agent_vars: bool = True,
    ) -> FakeRunner:
        self.counter = getattr(self, "counter", 0) + 1
        return FakeRunner(
            self.origin,
            self.tmp / f"run-{self.counter}",
            event_name=event_name,
            event=event,
            sha=sha or self.sha,
            inputs=inputs,
            vars={
                **(
                    {
                        "ELEVENLABS_AGENT_ID_STAGING": "agent_staging",
                        "ELEVENLABS_AGENT_ID": "agent_production",
                    }
                    if agent_vars
                    else {}
                ),
                "ELEVENLABS_BASE_URL": f"emulator://{self.emulator}?{emulator_params}",
            },
            secrets=(
                {"ELEVENLABS_API_KEY": SECRET, "ELEVENLABS_API_KEY_STAGING": SECRET_STAGING}
                if secrets is None
                else secrets
            ),
            path_prefix=self.path_prefix,
        )

    def push(self, event_sha: str | None = None, **kwargs: Any) -> WorkflowRun:
        sha = event_sha or self.head()
        event = {"ref": "refs/heads/main", "after": sha, "head_commit": {"id": sha}}
        return self.runner("push", event, sha=sha, **kwargs).run_workflow(
            WORKFLOWS / "kbctl-apply.yml"
        )

    def head(self) -> str:
        return git(["rev-parse", "main"], self.origin).strip()

    def log(self) -> list[str]:
        return git(["log", "--format=%s", "main"], self.origin).splitlines()

    def files(self, folder: str) -> list[str]:
        out = git(["ls-tree", "-r", "--name-only", "main", "--", folder], self.origin)
        return out.splitlines()

    def commit(self, path: str, text: str, message: str) -> str:
        """Change one file on origin's main branch (a merged pull request); the new sha."""
        clone = self.tmp / f"edit-{self.head()[:8]}"
        git(["clone", "--quiet", str(self.origin), str(clone)], self.tmp)
        (clone / path).write_text(text, encoding="utf-8")
        git(["add", path], clone)
        git(["commit", "--quiet", "-m", message], clone)
        git(["push", "--quiet", "origin", "main"], clone)
        return self.head()


@pytest.fixture
def repo(tmp_path: Path, repo_copy: Path, fake_bin: Path, kbctl_bin: Path) -> Repo:
    origin, sha = make_origin(repo_copy, tmp_path)
    return Repo(
        tmp=tmp_path,
        origin=origin,
        sha=sha,
        emulator=tmp_path / "emulator",
        path_prefix=[fake_bin, kbctl_bin],
        pip_log=tmp_path / "pip.log",
    )


def pull_request_event(sha: str, head_repo: str = "acme/kb") -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"sha": sha, "ref": "feature", "repo": {"full_name": head_repo}},
            "base": {"ref": "main", "repo": {"full_name": "acme/kb"}},
        },
        "repository": {"full_name": "acme/kb"},
    }


def run_plan(repo: Repo, head_repo: str = "acme/kb", **kwargs: Any) -> JobResult:
    runner = repo.runner("pull_request", pull_request_event(repo.sha, head_repo), **kwargs)
    return runner.run_workflow(WORKFLOWS / "kbctl-plan.yml").job("plan")


def run_drift(repo: Repo, **kwargs: Any) -> JobResult:
    runner = repo.runner("schedule", {"schedule": "17 6 * * *"}, sha=repo.head(), **kwargs)
    return runner.run_workflow(WORKFLOWS / "kbctl-drift.yml").job("drift")


def github_script(
    job: JobResult, step: str, state: dict[str, Any], tmp: Path
) -> list[tuple[str, dict[str, Any]]]:
    """Run a github-script step's script with node against a fake API; the writes it made."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    record = job.step(step)
    assert record.uses == "actions/github-script@v7"
    script = tmp / "script.js"
    script.write_text(record.with_["script"], encoding="utf-8")
    state_file = tmp / "state.json"
    state_file.write_text(json.dumps(state), encoding="utf-8")
    calls_file = tmp / "calls.json"
    proc = subprocess.run(
        [node, str(HARNESS), str(state_file), str(script), str(calls_file)],
        env={"PATH": "/usr/bin:/bin", **record.env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [(method, params) for method, params in json.loads(calls_file.read_text())]


def assert_secret_hidden(job: JobResult, *secrets: str) -> None:
    """No secret in the job's logs, step summary or files (the ::add-mask:: commands aside)."""
    texts = [
        line
        for line in job.log().splitlines()
        if not line.startswith("::add-mask::")  # consumed by the runner, never shown
    ]
    texts.append(job.summary)
    assert job.runner_temp is not None
    for path in job.runner_temp.rglob("*"):
        if path.is_file() and "_runner_files" not in path.parts:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob


# -- plan on pull requests -------------------------------------------------------------------


def test_plan_job_posts_one_comment_with_every_environment_and_uploads_json_plans(
    repo: Repo, tmp_path: Path
) -> None:
    job = run_plan(repo)
    assert job.result == "success", job.log()
    outcomes = {s.name: s.outcome for s in job.steps}
    assert outcomes["Validate the manifests"] == "success"
    assert outcomes["Plan staging"] == outcomes["Plan production"] == "success"

    # kbctl was installed from the action's own source, once for the job.
    assert repo.pip_log.read_text().count("-m pip install") == 1
    assert str(job.workspace) in repo.pip_log.read_text()

    # Each environment's plan has changes (exit 2), which is a success.
    for env in ("staging", "production"):
        step = job.step(env)
        assert step.outputs["exit-code"] == "2"
        assert step.outputs["has-changes"] == "true"
    # The per-environment key wins over the shared one.
    assert job.step("staging").env["ELEVENLABS_API_KEY"] == SECRET_STAGING
    assert job.step("production").env["ELEVENLABS_API_KEY"] == SECRET

    # JSON plans uploaded as artifacts.
    upload = job.step("Upload the JSON plans")
    assert upload.outcome == "success"
    plans = sorted(glob.glob(upload.with_["path"]))
    assert [Path(p).name for p in plans] == ["plan-production.json", "plan-staging.json"]
    for path in plans:
        plan = json.loads(Path(path).read_text())
        assert plan["summary"]["create"] > 0
        assert plan["environment"] in path

    # The comment body: one marker, both environments, each summary, under the limit.
    comment = job.step("Post or update the plan comment")
    assert comment.outcome == "success"
    body = Path(comment.env["BODY_PATH"]).read_text()
    assert body.startswith(PLAN_MARKER)
    assert len(body) < 65_000
    for env in ("staging", "production"):
        assert f"<!-- kbctl-plan:{env} -->" in body
    assert body.count("to create") >= 2
    assert f"commit `{repo.sha[:12]}`" in body

    # The step summary has both plans; plan findings became annotations on the manifest.
    assert "kbctl plan for `staging`" in job.summary
    assert "kbctl plan for `production`" in job.summary
    assert "::warning file=manifests/example.yaml" in job.log()
    # kbctl plan annotates them itself, on their lines, once per finding and environment (the
    # run script no longer adds its own); the title names the environment.
    plan_annotations = re.findall(r"^::(?:warning|error) .*title=kbctl plan.*$", job.log(), re.M)
    joined = "\n".join(plan_annotations)
    for env in ("staging", "production"):
        assert re.search(rf",line=\d+,title=kbctl plan {env}::small_document: ", joined)
    assert all(plan_annotations.count(line) == 1 for line in plan_annotations), plan_annotations
    assert_secret_hidden(job, SECRET, SECRET_STAGING)

    # The github-script creates the comment once, then edits it in place.
    calls = github_script(job, comment.name, {"issue_number": 7, "comments": []}, tmp_path)
    assert [method for method, _ in calls] == ["createComment"]
    assert calls[0][1]["issue_number"] == 7 and calls[0][1]["body"] == body
    existing = [
        {"id": 11, "user": {"type": "User"}, "body": f"quoting {PLAN_MARKER}"},
        {"id": 12, "user": {"type": "Bot"}, "body": f"{PLAN_MARKER}\nold plan"},
    ]
    calls = github_script(job, comment.name, {"issue_number": 7, "comments": existing}, tmp_path)
    assert calls == [
        ("updateComment", {"owner": "acme", "repo": "kb", "comment_id": 12, "body": body})
    ]


def test_plan_from_a_fork_validates_but_skips_the_live_plan_with_a_note(repo: Repo) -> None:
    job = run_plan(repo, head_repo="stranger/kb", secrets={}, agent_vars=False)
    assert job.result == "success", job.log()
    # Unset agent ids are warnings of validate, annotated on their manifest lines.
    assert re.search(
        r"^::warning file=manifests/example.yaml,line=\d+,title=kbctl validate::"
        r"environments.production.agent_id: .*ELEVENLABS_AGENT_ID is not set$",
        job.log(),
        re.MULTILINE,
    )
    outcomes = {s.name: s.outcome for s in job.steps}
    assert outcomes["Validate the manifests"] == "success"
    for name in (
        "Plan staging",
        "Plan production",
        "Upload the JSON plans",
        "Post or update the plan comment",
    ):
        assert outcomes[name] == "skipped", name
    assert "### kbctl plan skipped" in job.summary
    assert "::notice title=kbctl plan skipped::" in job.log()


def test_plan_job_fails_on_errors_and_still_comments(repo: Repo, tmp_path: Path) -> None:
    # An emulator setting kbctl rejects makes every plan fail (exit 1).
    job = run_plan(repo, emulator_params="index_seconds=-1")
    assert job.result == "failure"
    assert job.step("staging").outcome == "failure"
    assert job.step("production").outcome == "failure"  # planned although staging failed
    comment = job.step("Post or update the plan comment")
    assert comment.outcome == "success"
    body = Path(comment.env["BODY_PATH"]).read_text()
    assert "### ❌ staging: kbctl plan failed (exit 1)" in body
    assert "### ❌ production: kbctl plan failed (exit 1)" in body
    assert "kbctl plan failed: staging" in job.summary


def test_invalid_manifests_fail_validation_and_comment_says_so(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit("manifests/broken.yaml", "version: 1\nproject: Not Valid\n", "break")
    runner = repo.runner("pull_request", pull_request_event(sha), sha=sha)
    job = runner.run_workflow(WORKFLOWS / "kbctl-plan.yml").job("plan")
    assert job.result == "failure"
    assert job.step("Validate the manifests").outcome == "failure"
    assert job.step("Plan staging").outcome == "skipped"
    assert "::error file=manifests/broken.yaml" in job.log()
    assert "kbctl validate failed" in job.summary
    comment = job.step("Post or update the plan comment")
    assert comment.outcome == "success"
    assert not Path(comment.env["BODY_PATH"]).exists()
    calls = github_script(job, comment.name, {"issue_number": 7, "comments": []}, tmp_path)
    assert calls[0][0] == "createComment"
    assert "could not plan" in calls[0][1]["body"] and PLAN_MARKER in calls[0][1]["body"]


# -- apply on merge ----------------------------------------------------------------------------


def snapshot_files(repo: Repo, env: str) -> list[str]:
    return [f for f in repo.files(f"state-snapshots/{env}") if f.endswith(".json")]


def test_apply_job_applies_staging_then_production_and_commits_the_snapshots(
    repo: Repo,
) -> None:
    run = repo.push()
    staging, production = run.job("staging"), run.job("production")
    assert list(run.jobs) == ["staging", "production"]
    assert staging.result == "success", staging.log()
    assert production.result == "success", production.log()
    assert (staging.environment, production.environment) == ("staging", "production")
    assert staging.concurrency == {"group": "kbctl-apply-staging", "cancel-in-progress": False}

    for env, job in (("staging", staging), ("production", production)):
        step = job.step("run")
        assert step.outputs["exit-code"] == "0"
        assert f"+ kbctl apply -e {env} --auto-approve --json" in job.log()
        assert f"### ✅ kbctl apply: {env}" in job.summary
        assert "9 created" in job.summary
        assert_secret_hidden(job, SECRET)

    # The snapshot commits, one per environment, on top of the merge commit.
    log = repo.log()
    assert log[:2] == [
        "kbctl: snapshots for production apply [skip ci]",
        "kbctl: snapshots for staging apply [skip ci]",
    ]
    assert snapshot_files(repo, "staging") and snapshot_files(repo, "production")
    changed = git(["show", "--name-only", "--format=", "main"], repo.origin).split()
    assert changed and all(path.startswith("state-snapshots/") for path in changed)
    author = git(["log", "-1", "--format=%an <%ae>", "main"], repo.origin).strip()
    assert author.startswith("github-actions[bot] <41898282+github-actions[bot]@")

    # The live workspace now matches the manifests: planning again changes nothing.
    job = run_drift(repo)
    assert job.result == "success", job.log()
    assert job.step("staging").outputs["drift"] == "false"
    assert job.step("production").outputs["drift"] == "false"

    # A second push with nothing to change leaves no new snapshot commit behind.
    before = repo.head()
    again = repo.push()
    assert again.job("production").result == "success"
    assert "No changes" in again.job("production").summary
    assert repo.head() == before


def test_index_gate_fails_the_job_with_per_document_reasons_and_skips_production(
    repo: Repo,
) -> None:
    run = repo.push(emulator_params="index_seconds=0&fail_index_containing=Riverside")
    staging = run.job("staging")
    assert staging.result == "failure"
    assert staging.step("run").outputs["exit-code"] == "3"
    assert run.job("production").result == "skipped"
    summary = staging.summary
    assert "### ❌ kbctl apply stopped at the index gate: staging" in summary
    assert "The agent is unchanged" in summary
    assert "quarters/riverside-park.md" in summary
    assert "::error" in staging.log()


def test_manual_apply_of_production_only(repo: Repo) -> None:
    runner = repo.runner(
        "workflow_dispatch",
        {"inputs": {"environment": "production", "allow-destroy": True}},
        inputs={"environment": "production", "allow-destroy": True},
        sha=repo.head(),
    )
    run = runner.run_workflow(WORKFLOWS / "kbctl-apply.yml")
    assert run.job("staging").result == "skipped"
    production = run.job("production")
    assert production.result == "success", production.log()
    assert production.step("Apply production").with_["args"] == "--allow-destroy"
    assert "--allow-destroy" in production.log()
    assert repo.log()[0] == "kbctl: snapshots for production apply [skip ci]"


# -- drift -------------------------------------------------------------------------------------


def test_drift_opens_one_issue_and_closes_it_once_the_drift_is_gone(
    repo: Repo, tmp_path: Path
) -> None:
    job = run_drift(repo)
    assert job.result == "success", job.log()
    assert job.step("staging").outputs["drift"] == "true"
    script = job.step("Open, update or close the drift issue")
    assert script.env["DRIFT"] == "true" and script.env["CHECKED"] == "true"
    body = Path(script.env["BODY_PATH"]).read_text()
    assert body.startswith(DRIFT_MARKER) and len(body) < 65_000
    assert "<!-- kbctl-plan:production -->" in body
    assert len(glob.glob(job.step("Upload the JSON plans").with_["path"])) == 2

    calls = github_script(job, script.name, {"issues": []}, tmp_path)
    assert [method for method, _ in calls] == ["create"]
    assert calls[0][1]["labels"] == ["kbctl-drift"] and calls[0][1]["body"] == body
    issue = {"number": 3, "state": "open", "labels": ["kbctl-drift"], "body": f"{DRIFT_MARKER}\n"}
    calls = github_script(job, script.name, {"issues": [issue]}, tmp_path)
    assert calls == [("update", {"owner": "acme", "repo": "kb", "issue_number": 3, "body": body})]

    repo.push()
    job = run_drift(repo)
    script = job.step("Open, update or close the drift issue")
    assert script.env["DRIFT"] == "false"
    calls = github_script(job, script.name, {"issues": [issue]}, tmp_path)
    assert [method for method, _ in calls] == ["createComment", "update"]
    assert calls[1][1]["state"] == "closed"


# -- rollback ----------------------------------------------------------------------------------


def apply_by_hand(repo: Repo, environment: str) -> WorkflowRun:
    inputs = {"environment": environment, "allow-destroy": False}
    runner = repo.runner("workflow_dispatch", {"inputs": inputs}, inputs=inputs, sha=repo.head())
    return runner.run_workflow(WORKFLOWS / "kbctl-apply.yml")


def test_rollback_workflow_restores_the_previous_state_and_commits_its_snapshots(
    repo: Repo,
) -> None:
    assert apply_by_hand(repo, "staging").job("staging").result == "success"
    path = "manifests/quarters/riverside-park.md"
    text = git(["show", f"main:{path}"], repo.origin)
    repo.commit(path, text + "\nBuilding C opens in spring.\n", "Riverside: building C")
    run = apply_by_hand(repo, "staging")
    assert run.job("staging").result == "success"
    assert run.job("production").result == "skipped"
    assert run_drift(repo).step("staging").outputs["drift"] == "false"

    inputs = {"environment": "staging", "snapshot": "previous", "allow-destroy": False}
    runner = repo.runner("workflow_dispatch", {"inputs": inputs}, inputs=inputs, sha=repo.head())
    job = runner.run_workflow(WORKFLOWS / "kbctl-rollback.yml").job("rollback")
    assert job.result == "success", job.log()
    assert job.environment == "staging"
    assert job.concurrency == {"group": "kbctl-apply-staging", "cancel-in-progress": False}
    assert "+ kbctl rollback -e staging --to previous --auto-approve --json" in job.log()
    assert "### ✅ kbctl rollback: staging" in job.summary
    assert "Snapshots of staging before the rollback" in job.summary
    assert repo.log()[0] == "kbctl: snapshots for staging rollback [skip ci]"
    assert_secret_hidden(job, SECRET)

    # Staging is back to the content before the last merge: it drifted from the manifests.
    assert run_drift(repo).step("staging").outputs["drift"] == "true"
