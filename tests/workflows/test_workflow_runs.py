"""The adoption snippet of docs/github-actions.md, copied into a fresh repository, run step by step
by a fake runner (tests/workflows/fake_runner.py) against the embedded emulator: the caller calls
kbctl's reusable workflow, whose jobs run kbctl's composite action, whose scripts run with bash in
a clone of the repository, with the GITHUB_* files a real runner provides. Artifacts are kept
between jobs; github-script steps run under node against a fake GitHub API."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.conftest import ROOT, adoption_snippet
from tests.workflows.fake_runner import (
    ConcurrencyBoard,
    FakeRunner,
    JobResult,
    WorkflowRun,
    git,
    make_origin,
)

READ_KEY = "sk_test_read_9f8e7d6c_do_not_print"
WRITE_STAGING = "sk_test_write_staging_3a2b1c_do_not_print"
WRITE_PRODUCTION = "sk_test_write_production_77aa_do_not_print"
PLAN_MARKER = "<!-- kbctl-plan -->"
DRIFT_MARKER = "<!-- kbctl-drift -->"
STATE = "kbctl/state"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node runs github-script")


@dataclass
class Repo:
    """A fresh user repository (bare origin) with the adoption snippet, and the emulator."""

    tmp: Path
    origin: Path
    emulator: Path
    path_prefix: list[Path]
    pip_log: Path
    board: ConcurrencyBoard = field(default_factory=ConcurrencyBoard)
    counter: int = 0
    #: More repository secrets, variables and environment secrets for every run.
    secrets: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    environment_secrets: dict[str, dict[str, str]] = field(default_factory=dict)

    def runner(
        self,
        event_name: str,
        event: dict[str, Any],
        *,
        inputs: dict[str, Any] | None = None,
        emulator_params: str = "index_seconds=0",
        sha: str | None = None,
        api: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> FakeRunner:
        self.counter += 1
        event = {"repository": {"full_name": "acme/kb", "default_branch": "main"}, **event}
        return FakeRunner(
            self.origin,
            self.tmp / f"run-{self.counter}",
            event_name=event_name,
            event=event,
            sha=sha or self.head(),
            inputs=inputs,
            vars={
                "ELEVENLABS_AGENT_ID_STAGING": "agent_staging",
                "ELEVENLABS_AGENT_ID": "agent_production",
                "ELEVENLABS_BASE_URL": f"emulator://{self.emulator}?{emulator_params}",
                **self.vars,
            },
            secrets={"ELEVENLABS_READ_API_KEY": READ_KEY, **self.secrets},
            environment_secrets={
                env: {"ELEVENLABS_WRITE_API_KEY": key, **self.environment_secrets.get(env, {})}
                for env, key in (("staging", WRITE_STAGING), ("production", WRITE_PRODUCTION))
            },
            path_prefix=self.path_prefix,
            action_repos={"kbctl/kbctl": ROOT},
            github_api=api if api is not None else {},
            board=self.board,
            **kwargs,
        )

    def workflow(self) -> Path:
        return self.tmp / "caller.yml"

    def head(self, branch: str = "main") -> str:
        return git(["rev-parse", branch], self.origin).strip()

    def commit(self, path: str, text: str | None, message: str = "change") -> str:
        """Change (or delete, text None) one file on origin's main (a merge); the new sha."""
        self.counter += 1
        clone = self.tmp / f"edit-{self.counter}"
        git(["clone", "--quiet", str(self.origin), str(clone)], self.tmp)
        if text is None:
            git(["rm", "--quiet", path], clone)
        else:
            (clone / path).parent.mkdir(parents=True, exist_ok=True)
            (clone / path).write_text(text, encoding="utf-8")
            git(["add", path], clone)
        git(["commit", "--quiet", "-m", message], clone)
        git(["push", "--quiet", "origin", "main"], clone)
        return self.head()

    def files(self, ref: str, folder: str) -> list[str]:
        out = git(["ls-tree", "-r", "--name-only", ref, "--", folder], self.origin)
        return out.splitlines()

    # -- events ---------------------------------------------------------------------------------

    def pull_request(
        self, base: str, head: str, labels: tuple[str, ...] = (), **kw: Any
    ) -> WorkflowRun:
        event = {
            "action": "synchronize",
            "number": 7,
            "pull_request": {
                "number": 7,
                "labels": [{"name": label} for label in labels],
                "head": {
                    "sha": head,
                    "ref": "feature",
                    "repo": {"full_name": kw.pop("head_repo", "acme/kb")},
                },
                "base": {"sha": base, "ref": "main", "repo": {"full_name": "acme/kb"}},
            },
        }
        api = kw.pop("api", {"issue_number": 7, "comments": []})
        runner = self.runner("pull_request", event, sha=head, api=api, **kw)
        run = runner.run_workflow(self.workflow())
        run.api_calls = runner.api_calls  # type: ignore[attr-defined]
        return run

    def merge(
        self, before: str, after: str | None = None, labels: tuple[str, ...] = (), **kw: Any
    ) -> WorkflowRun:
        after = after or self.head()
        event = {"ref": "refs/heads/main", "before": before, "after": after}
        pulls = [
            {
                "number": 7,
                "merged_at": "2026-11-30T12:00:00Z",
                "merge_commit_sha": after,
                "labels": [{"name": label} for label in labels],
            }
        ]
        runner = self.runner(
            "push", event, sha=after, api={"pulls_for_commit": {after: pulls}}, **kw
        )
        return runner.run_workflow(self.workflow())

    def dispatch(self, inputs: dict[str, Any], **kw: Any) -> WorkflowRun:
        runner = self.runner("workflow_dispatch", {"inputs": inputs}, inputs=inputs, **kw)
        return runner.run_workflow(self.workflow())

    def schedule(self, api: dict[str, Any], **kw: Any) -> tuple[WorkflowRun, list[Any]]:
        runner = self.runner("schedule", {"schedule": "17 6 * * *"}, api=api, **kw)
        run = runner.run_workflow(self.workflow())
        return run, runner.api_calls


def make_repo(tmp_path: Path, fake_bin: Path, kbctl_bin: Path, snippet: str | None = None) -> Repo:
    source = tmp_path / "source"
    source.mkdir()
    shutil.copytree(
        ROOT / "manifests", source / "manifests", ignore=shutil.ignore_patterns("__pycache__")
    )
    (source / "README.md").write_text("# Our knowledge base\n", encoding="utf-8")
    (source / ".github" / "workflows").mkdir(parents=True)
    (source / ".github" / "workflows" / "kbctl.yml").write_text(snippet or adoption_snippet())
    origin, _ = make_origin(source, tmp_path)
    repo = Repo(
        tmp_path, origin, tmp_path / "emulator", [fake_bin, kbctl_bin], tmp_path / "pip.log"
    )
    shutil.copy(source / ".github" / "workflows" / "kbctl.yml", repo.workflow())
    return repo


@pytest.fixture
def repo(tmp_path: Path, fake_bin: Path, kbctl_bin: Path) -> Repo:
    return make_repo(tmp_path, fake_bin, kbctl_bin)


def assert_secret_hidden(job: JobResult, *secrets: str) -> None:
    """No secret in the job's logs, step summary or files (the ::add-mask:: commands aside)."""
    texts = [line for line in job.log().splitlines() if not line.startswith("::add-mask::")]
    texts.append(job.summary)
    assert job.runner_temp is not None
    for path in job.runner_temp.rglob("*"):
        if path.is_file() and "_runner_files" not in path.parts and "kbctl-venv" not in str(path):
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob


def edit_quarter(repo: Repo, extra: str = "\nBuilding C opens in spring.\n") -> str:
    path = "manifests/quarters/riverside-park.md"
    text = git(["show", f"main:{path}"], repo.origin)
    return repo.commit(path, text + extra, "Riverside: building C")


# -- pull requests --------------------------------------------------------------------------------


def test_pull_request_plans_every_environment_with_the_read_key_and_comments_once(
    repo: Repo,
) -> None:
    base = repo.head()
    head = edit_quarter(repo)
    run = repo.pull_request(base, head)
    job = run.job("plan")
    assert job.result == "success", job.log()
    assert job.step("changes").outputs["changed"] == "true"
    for env in ("staging", "production"):
        step = job.step(env)
        assert step.outcome == "success"
        assert step.outputs["status"] == "changes" and step.outputs["has-changes"] == "true"
        assert step.with_["api-key"] == READ_KEY  # never a write key in a pull request
    assert job.concurrency == {"group": "kbctl-.-plan-7", "cancel-in-progress": True}
    # kbctl went into its own virtual environment, from the lock, once for the job.
    log = repo.pip_log.read_text()
    assert log.count("venv ") == 1 and "--require-hashes" in log
    # One comment, with both environments, posted through the API.
    calls = run.api_calls  # type: ignore[attr-defined]
    assert [m for m, _ in calls] == ["createComment"]
    body = calls[0][1]["body"]
    assert body.startswith(PLAN_MARKER) and len(body) < 65_000
    assert "<!-- kbctl-plan:staging -->" in body and "<!-- kbctl-plan:production -->" in body
    assert "kbctl plan for `production`" in job.summary
    assert_secret_hidden(job, READ_KEY, WRITE_STAGING, WRITE_PRODUCTION)


def test_a_readme_only_pull_request_gets_a_green_check_without_planning(repo: Repo) -> None:
    base = repo.head()
    head = repo.commit("README.md", "# Our knowledge base\n\nMore words.\n")
    run = repo.pull_request(base, head)
    job = run.job("plan")
    assert job.result == "success", job.log()
    assert job.step("changes").outputs["changed"] == "false"
    for name in ("Validate the manifests", "staging", "production"):
        assert job.step(name).outcome == "skipped", name
    assert "no manifest changes" in job.summary
    assert run.api_calls == []  # type: ignore[attr-defined]  # no comment to create


def test_a_fork_validates_only(repo: Repo) -> None:
    base = repo.head()
    head = edit_quarter(repo)
    run = repo.pull_request(base, head, head_repo="stranger/kb")
    job = run.job("plan")
    assert job.result == "success", job.log()
    assert job.step("Validate the manifests").outcome == "success"
    assert job.step("staging").outcome == "skipped"
    assert "### kbctl plan skipped" in job.summary


@pytest.mark.slow
def test_deletions_on_a_protected_environment_need_the_label(repo: Repo) -> None:
    repo.dispatch({"rollback-environment": "", "rollback-to": "previous"})  # apply both
    base = repo.head()
    head = repo.commit("manifests/quarters/tsentralny.md", None, "Tsentralny is sold out")
    run = repo.pull_request(base, head)
    job = run.job("plan")
    assert job.result == "failure"
    assert job.step("staging").outputs["status"] == "changes"  # staging is not protected
    production = job.step("production")
    assert production.outcome == "failure" and production.outputs["status"] == "refused"
    assert "kbctl:allow-destroy" in job.summary
    body = run.api_calls[0][1]["body"]  # type: ignore[attr-defined]
    assert "kbctl:allow-destroy" in body
    assert "need acknowledgement (exit 5)" in body and "quarters/tsentralny.md" in body

    labelled = repo.pull_request(base, head, labels=("kbctl:allow-destroy",))
    job = labelled.job("plan")
    assert job.result == "success", job.log()
    assert job.step("production").outputs["status"] == "changes"

    # The merge honours the merged pull request's label, and only it.
    unlabelled = repo.merge(base, head)
    assert unlabelled.job("plan-production").result == "failure"
    assert unlabelled.job("apply-production").result == "skipped"
    merged = repo.merge(base, head, labels=("kbctl:allow-destroy",))
    assert merged.job("apply-production").result == "success", merged.job("apply-production").log()


# -- merges ---------------------------------------------------------------------------------------


def test_a_merge_plans_then_applies_exactly_that_plan_staging_before_production(repo: Repo) -> None:
    before = repo.head()
    after = edit_quarter(repo)
    run = repo.merge(before, after)
    for name in ("plan-staging", "apply-staging", "plan-production", "apply-production"):
        assert run.job(name).result == "success", (name, run.job(name).log())
    apply = run.job("apply-production")
    assert apply.environment == "production"
    assert apply.concurrency == {"group": "kbctl-.-apply-production", "cancel-in-progress": False}
    step = apply.step("apply")
    assert step.with_["api-key"] == WRITE_PRODUCTION
    assert "plan-production.json" in step.with_["plan-file"]
    assert re.search(
        r"\+ kbctl apply -e production \S*plan-production.json --auto-approve --json", apply.log()
    )
    # Human progress lines in the log, not raw JSON events.
    # Production reuses the documents staging uploaded and indexed (one workspace).
    assert "index gate passed" in run.job("apply-staging").log()
    assert "  reused quarters/" in apply.log() and "agent updated" in apply.log()
    assert '{"event":' not in apply.log()
    assert "### ✅ kbctl apply: production" in apply.summary
    # The plan reviewers read is the plan job's summary.
    assert "kbctl plan for `production`" in run.job("plan-production").summary
    # Snapshots: on the state branch, never on main; main has no bot commit.
    assert repo.head() == after
    assert [f for f in repo.files(STATE, "state-snapshots/production") if f.endswith(".json")]
    assert [f for f in repo.files(STATE, "state-snapshots/staging") if f.endswith(".json")]
    assert step.outputs["snapshots-pushed"] == "true"
    assert_secret_hidden(apply, READ_KEY, WRITE_STAGING, WRITE_PRODUCTION)


def test_a_docs_merge_starts_no_apply(repo: Repo) -> None:
    before = repo.head()
    after = repo.commit("README.md", "# Our knowledge base\n\nDocs only.\n")
    run = repo.merge(before, after)
    assert run.job("plan-staging").result == "success"
    assert run.job("plan-staging").step("plan").outcome == "skipped"
    for name in ("apply-staging", "plan-production", "apply-production"):
        assert run.job(name).result == "skipped", name


def test_a_rejected_snapshot_push_is_reported_and_production_still_applies(repo: Repo) -> None:
    hook = repo.origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "grep -q refs/heads/kbctl/state || exit 0\n"
        f'echo attempt >> "{repo.tmp}/pushes.log"\n'
        'echo "error: GH006: Protected branch update failed for refs/heads/kbctl/state." >&2\n'
        "exit 1\n"
    )
    hook.chmod(0o755)
    before = repo.head()
    run = repo.merge(before, edit_quarter(repo))
    staging = run.job("apply-staging")
    assert staging.result == "failure"  # reported as failed…
    step = staging.step("apply")
    assert step.outputs["applied"] == "true" and step.outputs["snapshots-pushed"] == "false"
    assert staging.outputs["applied"] == "true"  # what the next job reads
    assert "GH006" in staging.log()
    assert "snapshots not pushed" in staging.summary
    assert "### ✅ kbctl apply: staging" in staging.summary  # the apply itself succeeded
    # …no blind retries on a permanent rejection…
    assert (repo.tmp / "pushes.log").read_text().count("attempt") == 2  # one per environment
    # …and production still applies what staging applied.
    assert run.job("apply-production").step("apply").outputs["applied"] == "true"
    # The snapshots are in the runs' artifacts.
    assert any(
        p.name.endswith(".json") and "state-snapshots" in p.parts
        for p in (repo.tmp).rglob("artifacts/kbctl-apply-staging-*/**/*")
    )


def test_production_refuses_a_stale_reviewed_plan(repo: Repo) -> None:
    def change_production() -> None:
        workdir = repo.tmp / "hand"
        git(["clone", "--quiet", str(repo.origin), str(workdir)], repo.tmp)
        import subprocess
        import sys

        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "ELEVENLABS_API_KEY": "x",
            "ELEVENLABS_AGENT_ID": "agent_production",
            "ELEVENLABS_BASE_URL": f"emulator://{repo.emulator}?index_seconds=0",
            "HOME": str(repo.tmp),
        }
        subprocess.run(
            ["kbctl", "apply", "-e", "production", "--auto-approve"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
        )

    before = repo.head()
    run = repo.merge(before, edit_quarter(repo), before_job={"apply-production": change_production})
    job = run.job("apply-production")
    assert job.result == "failure"
    assert job.step("apply").outputs["exit-code"] == "4"
    assert "changed since it was planned" in job.summary and "stale" in job.summary


def test_an_old_run_never_applies_an_old_commit(repo: Repo) -> None:
    before = repo.head()
    first = edit_quarter(repo)
    repo.commit("README.md", "newer\n", "a newer merge")
    run = repo.merge(before, first)
    job = run.job("apply-staging")
    assert job.result == "failure"
    assert job.step("apply").outputs["status"] == "superseded"
    assert "no longer the head" in job.log()
    assert run.job("apply-production").result == "skipped"


@pytest.mark.slow
def test_a_pending_approval_neither_delays_nor_cancels_a_rollback(repo: Repo) -> None:
    merged = repo.merge(repo.head(), edit_quarter(repo))
    assert merged.job("apply-production").result == "success"
    # The snapshot to go back to, as someone would read it on the state branch.
    records = [f for f in repo.files(STATE, "state-snapshots/production") if f.endswith(".json")]
    (target,) = [
        record["id"]
        for record in (json.loads(git(["show", f"{STATE}:{f}"], repo.origin)) for f in records)
        if record["kind"] == "after"
    ]
    # A second merge whose production apply waits for a reviewer.
    waiting = repo.merge(
        repo.head(), edit_quarter(repo, "\nAnd building D.\n"), pending_approval={"production"}
    )
    assert waiting.job("apply-staging").result == "success"
    assert waiting.job("apply-production").result == "waiting"
    # An emergency rollback of production runs at once…
    rollback = repo.dispatch({"rollback-environment": "production", "rollback-to": target})
    job = rollback.job("rollback")
    assert job.result == "success", job.log()
    assert "from the kbctl/state branch" in job.log()
    assert target in job.summary  # the snapshots it could choose from
    assert job.concurrency == {"group": "kbctl-.-rollback-production", "cancel-in-progress": False}
    # …and a later merge's pending production job cancels no rollback.
    later = repo.merge(
        repo.head(), edit_quarter(repo, "\nAnd E.\n"), pending_approval={"production"}
    )
    assert later.job("apply-production").result == "queued"
    assert repo.board.cancelled == []


@pytest.mark.slow
def test_rerunning_a_run_never_collides_on_artifact_names(repo: Repo) -> None:
    before = repo.head()
    after = edit_quarter(repo)
    store: dict[str, Path] = {}
    first = repo.merge(
        before,
        after,
        artifacts=store,
        run_attempt=1,
        emulator_params="index_seconds=0&fail_index_containing=Riverside",
    )
    assert first.job("apply-staging").result == "failure"
    second = repo.merge(before, after, artifacts=store, run_attempt=2)
    assert second.job("apply-staging").result == "success", second.job("apply-staging").log()
    assert any(name.endswith("-2") for name in store) and any(name.endswith("-1") for name in store)


# -- drift ----------------------------------------------------------------------------------------


def test_drift_opens_one_issue(repo: Repo) -> None:
    run, calls = repo.schedule({"issues": []})
    job = run.job("drift")
    assert job.result == "success", job.log()
    assert [m for m, _ in calls] == ["create"]
    assert calls[0][1]["labels"] == ["kbctl-drift"] and calls[0][1]["body"].startswith(DRIFT_MARKER)


# -- two projects ---------------------------------------------------------------------------------


TWO_PROJECTS = """\
name: kbctl
on: [pull_request, push, schedule, workflow_dispatch]
permissions: {}
jobs:
  support:
    uses: kbctl/kbctl/.github/workflows/kbctl.yml@v1
    permissions: {contents: write, pull-requests: write, issues: write}
    with:
      working-directory: kb/support
    secrets:
      ELEVENLABS_READ_API_KEY: ${{ secrets.ELEVENLABS_READ_API_KEY }}
      ELEVENLABS_WRITE_API_KEY: ${{ secrets.ELEVENLABS_WRITE_API_KEY }}
  sales:
    uses: kbctl/kbctl/.github/workflows/kbctl.yml@v1
    permissions: {contents: write, pull-requests: write, issues: write}
    with:
      working-directory: kb/sales
    secrets:
      ELEVENLABS_READ_API_KEY: ${{ secrets.ELEVENLABS_READ_API_KEY }}
      ELEVENLABS_WRITE_API_KEY: ${{ secrets.ELEVENLABS_WRITE_API_KEY }}
"""


@pytest.mark.slow
def test_two_projects_keep_separate_comments_issues_and_lanes(
    tmp_path: Path, fake_bin: Path, kbctl_bin: Path
) -> None:
    repo = make_repo(tmp_path, fake_bin, kbctl_bin, TWO_PROJECTS)
    clone = tmp_path / "layout"
    git(["clone", "--quiet", str(repo.origin), str(clone)], tmp_path)
    for project in ("support", "sales"):
        shutil.copytree(clone / "manifests", clone / "kb" / project / "manifests")
        text = (clone / "kb" / project / "manifests" / "example.yaml").read_text()
        (clone / "kb" / project / "manifests" / "example.yaml").write_text(
            text.replace("project: birby-quarters", f"project: birby-{project}")
        )
    git(["rm", "-r", "--quiet", "manifests"], clone)
    git(["add", "-A"], clone)
    git(["commit", "--quiet", "-m", "two projects"], clone)
    git(["push", "--quiet", "origin", "main"], clone)
    base = repo.head()
    head = repo.commit("kb/sales/manifests/quarters/old-mill.md", "Old Mill, updated.\n" * 40)

    run = repo.pull_request(base, head)
    support, sales = run.job("support/plan"), run.job("sales/plan")
    assert support.result == sales.result == "success", sales.log()
    assert support.step("changes").outputs["changed"] == "false"  # only sales changed
    assert sales.step("changes").outputs["changed"] == "true"
    assert support.concurrency["group"] != sales.concurrency["group"]
    bodies = [params["body"] for method, params in run.api_calls if method == "createComment"]  # type: ignore[attr-defined]
    assert len(bodies) == 1 and bodies[0].startswith("<!-- kbctl-plan[kb/sales] -->")

    merged = repo.merge(base, head)
    lanes = {
        merged.job(f"{p}/apply-production").concurrency["group"]
        for p in ("support", "sales")
        if merged.job(f"{p}/apply-production").concurrency
    }
    assert lanes == {"kbctl-kb/sales-apply-production"}
    assert merged.job("support/apply-staging").result == "skipped"

    # Sales was applied by the merge, support never was: only support's issue opens.
    drift, calls = repo.schedule({"issues": []})
    created = [params for method, params in calls if method == "create"]
    assert [c["labels"] for c in created] == [["kbctl-drift:kb/support"]]
    assert created[0]["body"].startswith("<!-- kbctl-drift[kb/support] -->")
    assert drift.job("sales/drift").step("staging").outputs["drift"] == "false"
