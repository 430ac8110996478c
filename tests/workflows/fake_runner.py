"""A fake GitHub Actions runner: walks a workflow's jobs and steps in order, evaluates the `${{ }}`
expressions they use, expands `uses: ./` (and `uses: OWNER/REPO@REF` for the repositories it is
given, e.g. kbctl's own action) into the composite action's steps, calls reusable workflows
(`jobs.<id>.uses`) with their inputs, secrets and outputs, and runs every `run:` script with bash
in a checkout of a local git repository, with the `GITHUB_*` files a real runner provides.

Of the third-party actions, upload-artifact and download-artifact are emulated (a per-run store,
names must be unique as in GitHub), github-script runs under node against a fake API when the
test gives one (`github_api`), and the others (checkout, setup-python) are recorded: their
evaluated `with:` and `env:` are kept for the test to check. Each job gets a fresh clone of the
origin repository (what actions/checkout does) and a fresh RUNNER_TEMP. Environments listed in
`pending_approval` leave their jobs `waiting`; `ConcurrencyBoard` models who holds which
concurrency group. What it reports is in fake_results.py; the GitHub services it emulates
(artifacts, github-script, concurrency, git origins) in fake_services.py.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.workflows.expressions import Context, Status, condition, interpolate, to_string
from tests.workflows.fake_results import (
    JobResult,
    StepResult,
    WorkflowRun,
    load_yaml,
    parse_kv_file,
)
from tests.workflows.fake_services import (
    ConcurrencyBoard,
    _git,
    download_artifact,
    git,
    make_origin,
    run_github_script,
    upload_artifact,
)

__all__ = [
    "ConcurrencyBoard",
    "FakeRunner",
    "JobResult",
    "StepResult",
    "WorkflowRun",
    "git",
    "load_yaml",
    "make_origin",
]


class FakeRunner:
    """Runs workflows of the repository whose bare origin is `origin`."""

    def __init__(
        self,
        origin: Path,
        work: Path,
        *,
        event_name: str,
        event: dict[str, Any],
        sha: str,
        ref_name: str = "main",
        inputs: dict[str, Any] | None = None,
        vars: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        path_prefix: list[Path] | None = None,
        repository: str = "acme/kb",
        action_repos: dict[str, Path] | None = None,
        environment_secrets: dict[str, dict[str, str]] | None = None,
        github_api: dict[str, Any] | None = None,
        pending_approval: set[str] | None = None,
        board: ConcurrencyBoard | None = None,
        artifacts: dict[str, Path] | None = None,
        run_attempt: int = 1,
        before_job: dict[str, Any] | None = None,
        run_id: str = "4242",
    ) -> None:
        self.origin = origin
        self.work = work
        self.event_name = event_name
        self.event = event
        self.sha = sha
        self.ref_name = ref_name
        self.inputs = inputs or {}
        self.vars = vars or {}
        self.secrets = secrets or {}
        self.path_prefix = path_prefix or []
        self.repository = repository
        self.action_repos = action_repos or {}
        self.environment_secrets = environment_secrets or {}
        self.github_api = github_api
        self.api_calls: list[tuple[str, dict[str, Any]]] = []
        self.pending_approval = pending_approval or set()
        self.board = board if board is not None else ConcurrencyBoard()
        self.artifacts: dict[str, Path] = artifacts if artifacts is not None else {}
        self.run_attempt = run_attempt
        self.before_job = before_job or {}
        self.run_id = run_id
        self.counter = 0
        work.mkdir(parents=True, exist_ok=True)
        self.event_path = work / "event.json"
        self.event_path.write_text(json.dumps(event), encoding="utf-8")
        self.home = work / "home"
        self.home.mkdir(exist_ok=True)

    # -- contexts ---------------------------------------------------------------------------

    def github_context(self, workspace: Path, job: str) -> dict[str, Any]:
        return {
            "event_name": self.event_name,
            "event": self.event,
            "repository": self.repository,
            "repository_owner": self.repository.split("/")[0],
            "ref": f"refs/heads/{self.ref_name}",
            "ref_name": self.ref_name,
            "sha": self.sha,
            "workspace": str(workspace),
            "job": job,
            "run_id": self.run_id,
            "run_attempt": str(self.run_attempt),
            "server_url": "https://github.com",
            "action_path": str(workspace),
        }

    def base_env(self, workspace: Path, runner_temp: Path, job: str) -> dict[str, str]:
        path = ":".join([*(str(p) for p in self.path_prefix), "/usr/local/bin:/usr/bin:/bin"])
        return {
            "PATH": path,
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_REPOSITORY_OWNER": self.repository.split("/")[0],
            "GITHUB_SHA": self.sha,
            "GITHUB_REF": f"refs/heads/{self.ref_name}",
            "GITHUB_REF_NAME": self.ref_name,
            "GITHUB_RUN_ID": self.run_id,
            "GITHUB_RUN_ATTEMPT": str(self.run_attempt),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_JOB": job,
            "RUNNER_TEMP": str(runner_temp),
            "RUNNER_OS": "Linux",
            "GIT_CONFIG_NOSYSTEM": "1",
        }

    # -- jobs -------------------------------------------------------------------------------

    def run_workflow(
        self,
        workflow: Path,
        inputs: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
    ) -> WorkflowRun:
        data = load_yaml(workflow)
        jobs: dict[str, Any] = data["jobs"]
        results: dict[str, JobResult] = {}
        pending = list(jobs)
        scope = _Scope(
            self.inputs if inputs is None else inputs,
            self.secrets if secrets is None else secrets,
            called=inputs is not None,
        )
        while pending:
            ready = [
                name
                for name in pending
                if all(n in results for n in _needs(jobs[name]))  # in file order
            ]
            assert ready, f"cycle in needs: {pending}"
            name = ready[0]
            pending.remove(name)
            results[name] = self.run_job(name, jobs[name], data.get("env", {}), results, scope)
        return WorkflowRun(results)

    def resolve(self, uses: str, kind: str) -> Path:
        """A local path for `uses:` — `./…` in the checkout, `OWNER/REPO[/PATH]@REF` in one of
        `action_repos` (the ref is ignored: the test's copy is the version under test)."""
        if uses.startswith("./"):
            raise ValueError("resolved against the workspace")
        target, _, _ref = uses.partition("@")
        parts = target.split("/")
        repo = "/".join(parts[:2])
        assert repo in self.action_repos, f"{kind} {uses}: not a repository the test provides"
        return self.action_repos[repo].joinpath(*parts[2:])

    def run_job(
        self,
        name: str,
        job: dict[str, Any],
        workflow_env: dict[str, Any],
        done: dict[str, JobResult],
        scope: _Scope | None = None,
    ) -> JobResult:
        scope = scope or _Scope(self.inputs, self.secrets)
        needs = _needs(job)
        needs_ctx = {n: {"result": done[n].result, "outputs": done[n].outputs} for n in needs}
        status = Status(
            failed=any(done[n].result in ("failure", "cancelled") for n in needs),
            skipped_needs=any(done[n].result in ("skipped", "waiting", "queued") for n in needs),
        )
        if any(done[n].result in ("waiting", "queued") for n in needs):
            return JobResult(name, "queued")  # its needs have not finished: it has not started
        ctx_values: dict[str, Any] = {
            "github": self.github_context(self.work, name),
            "inputs": scope.inputs,
            "vars": self.vars,
            "secrets": scope.secrets,
            "needs": needs_ctx,
            "env": {},
            "matrix": {},
        }
        ctx = Context(ctx_values, status)
        if not condition(job.get("if"), ctx):
            return JobResult(name, "skipped")
        if "uses" in job:
            return self.call_workflow(name, job, ctx)
        environment = interpolate(job.get("environment"), ctx)
        env_name = environment.get("name") if isinstance(environment, dict) else environment
        concurrency = _interpolate_tree(job.get("concurrency"), ctx)
        group = concurrency.get("group") if isinstance(concurrency, dict) else concurrency
        job_id = f"{self.run_id}/{self.run_attempt}/{name}"
        if group and self.board.enter(str(group), job_id) == "queued":
            return JobResult(name, "queued", environment=environment, concurrency=concurrency)
        if env_name in self.pending_approval:
            # Waits for a reviewer, holding its concurrency group, as GitHub does.
            return JobResult(name, "waiting", environment=environment, concurrency=concurrency)
        if env_name in self.environment_secrets:
            ctx_values["secrets"] = {**scope.secrets, **self.environment_secrets[env_name]}
        hook = self.before_job.get(name)
        if hook is not None:
            hook()
        result = self._run_job_steps(name, job, workflow_env, ctx, ctx_values)
        result.environment = environment
        result.concurrency = concurrency
        if group:
            self.board.leave(str(group), job_id)
        return result

    def call_workflow(self, name: str, job: dict[str, Any], ctx: Context) -> JobResult:
        """A job that calls a reusable workflow: its inputs (with the callee's defaults and
        types), secrets (`inherit` or a mapping) and outputs."""
        uses = str(job["uses"])
        if uses.startswith("./"):
            path = self.origin_file(uses[2:])
        else:
            path = self.resolve(uses, "workflow")
        callee = load_yaml(path)
        call = callee["on"]["workflow_call"] or {}
        given = {k: interpolate(v, ctx) for k, v in (job.get("with") or {}).items()}
        unknown = set(given) - set(call.get("inputs") or {})
        assert not unknown, f"{name}: unknown inputs {unknown}"
        inputs: dict[str, Any] = {}
        for key, spec in (call.get("inputs") or {}).items():
            value = given.get(
                key, spec.get("default", "" if spec.get("type") != "boolean" else False)
            )
            if spec.get("type") == "boolean" and isinstance(value, str):
                value = value.lower() == "true"
            if spec.get("type") == "string":
                value = to_string(value)
            if spec.get("required") and key not in given:
                raise AssertionError(f"{name}: input {key} is required")
            inputs[key] = value
        secrets_spec = job.get("secrets")
        if secrets_spec == "inherit":
            secrets = dict(ctx.values["secrets"])
        else:
            secrets = {k: to_string(interpolate(v, ctx)) for k, v in (secrets_spec or {}).items()}
            declared = set(call.get("secrets") or {})
            assert set(secrets) <= declared, f"{name}: undeclared secrets {set(secrets) - declared}"
        run = self.run_workflow(path, inputs=inputs, secrets=secrets)
        results = [j.result for j in run.jobs.values()]
        result = "failure" if any(r in ("failure", "cancelled") for r in results) else "success"
        if any(r in ("waiting", "queued") for r in results):
            result = "waiting"
        out_ctx = Context(
            {
                **ctx.values,
                "jobs": {
                    k: {"result": j.result, "outputs": j.outputs} for k, j in run.jobs.items()
                },
            }
        )
        outputs = {
            key: to_string(interpolate(spec.get("value", ""), out_ctx))
            for key, spec in (call.get("outputs") or {}).items()
        }
        return JobResult(name, result, outputs=outputs, called=run)

    def origin_file(self, path: str) -> Path:
        """A file of the origin repository at the run's commit (for `uses: ./…` workflows)."""
        dest = self.work / "callee" / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(_git(["show", f"{self.sha}:{path}"], self.origin), encoding="utf-8")
        return dest

    def _run_job_steps(
        self,
        name: str,
        job: dict[str, Any],
        workflow_env: dict[str, Any],
        ctx: Context,
        ctx_values: dict[str, Any],
    ) -> JobResult:

        self.counter += 1
        root = self.work / f"job-{self.counter}-{name}"
        workspace = root / "workspace"
        runner_temp = root / "temp"
        runner_temp.mkdir(parents=True)
        _git(["clone", "--quiet", str(self.origin), str(workspace)], root)
        _git(["checkout", "--quiet", "-B", self.ref_name, self.sha], workspace)

        ctx_values["github"] = self.github_context(workspace, name)
        ctx_values["runner"] = {"temp": str(runner_temp), "os": "Linux"}
        ctx_values["steps"] = {}
        env: dict[str, str] = {}
        for key, value in {**workflow_env, **job.get("env", {})}.items():
            env[key] = to_string(interpolate(value, ctx))
        ctx_values["env"] = env
        result = JobResult(name, "success", workspace=workspace, runner_temp=runner_temp)
        job_status = Status()
        ctx.status = job_status
        state = _JobState(
            self.base_env(workspace, runner_temp, name), env, workspace, runner_temp, []
        )
        for index, step in enumerate(job["steps"]):
            step_result = self.run_step(name, index, step, ctx, state, action_path=None)
            result.steps.append(step_result)
            if step_result.id:
                ctx_values["steps"][step_result.id] = {
                    "outputs": step_result.outputs,
                    "outcome": step_result.outcome,
                    "conclusion": (
                        "success"
                        if step_result.outcome == "failure" and _continue_on_error(step, ctx)
                        else step_result.outcome
                    ),
                }
            if step_result.outcome == "failure" and not _continue_on_error(step, ctx):
                job_status.failed = True
        result.result = "failure" if job_status.failed else "success"
        result.summary = "".join(state.summaries)
        # Job outputs are evaluated at the end, whatever the steps' outcomes.
        ctx.status = Status(failed=job_status.failed)
        result.outputs = {
            key: to_string(interpolate(value, ctx)) for key, value in job.get("outputs", {}).items()
        }
        return result

    # -- steps ------------------------------------------------------------------------------

    def run_step(
        self,
        job: str,
        index: int,
        step: dict[str, Any],
        ctx: Context,
        state: _JobState,
        action_path: Path | None,
    ) -> StepResult:
        name = to_string(interpolate(step.get("name"), ctx)) or (
            step.get("uses") or f"step {index}"
        )
        record = StepResult(
            job=job,
            name=name,
            id=step.get("id"),
            uses=step.get("uses"),
            run=step.get("run"),
            with_={},
            env={},
            outcome="skipped",
        )
        if not condition(step.get("if"), ctx):
            return record
        step_env = {
            **state.env,
            **{k: to_string(interpolate(v, ctx)) for k, v in step.get("env", {}).items()},
        }
        record.env = step_env
        record.with_ = {k: interpolate(v, ctx) for k, v in step.get("with", {}).items()}
        uses = record.uses or ""
        action = uses.partition("@")[0]
        if "run" in step:
            self._run_script(record, step, ctx, state, step_env, action_path)
        elif uses.startswith("./"):
            self._run_composite(record, ctx, state, step_env, state.workspace / uses)
        elif "/".join(action.split("/")[:2]) in self.action_repos:
            self._run_composite(record, ctx, state, step_env, self.resolve(uses, "action"))
        elif action == "actions/upload-artifact":
            upload_artifact(self.artifacts, self.work / "artifacts", record)
        elif action == "actions/download-artifact":
            download_artifact(self.artifacts, record)
        elif action == "actions/github-script" and self.github_api is not None:
            self.counter += 1
            folder = state.runner_temp / "_runner_files"
            api = {**self.github_api, "sha": self.sha}
            self.api_calls += run_github_script(api, record, folder, self.counter)
        else:
            record.outcome = "success"  # a third-party action: recorded, not run
        return record

    def _run_script(
        self,
        record: StepResult,
        step: dict[str, Any],
        ctx: Context,
        state: _JobState,
        step_env: dict[str, str],
        action_path: Path | None,
    ) -> None:
        shell = step.get("shell", "bash")
        assert shell == "bash", f"{record.name}: only bash steps are supported (got {shell})"
        script = str(step["run"])
        assert "${{" not in script, f"{record.name}: expression interpolated into a script"
        self.counter += 1
        files = state.runner_temp / "_runner_files"
        files.mkdir(exist_ok=True)
        output_file = files / f"output-{self.counter}"
        summary_file = files / f"summary-{self.counter}"
        env_file = files / f"env-{self.counter}"
        path_file = files / f"path-{self.counter}"
        for file in (output_file, summary_file, env_file, path_file):
            file.touch()
        script_file = files / f"script-{self.counter}.sh"
        script_file.write_text(script, encoding="utf-8")
        env = {
            **state.base,
            **step_env,
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "GITHUB_ENV": str(env_file),
            "GITHUB_PATH": str(path_file),
        }
        if state.extra_path:
            env["PATH"] = ":".join([*state.extra_path, env["PATH"]])
        if action_path is not None:
            env["GITHUB_ACTION_PATH"] = str(action_path)
        cwd = state.workspace
        directory = step.get("working-directory")
        if directory:
            cwd = (state.workspace / to_string(interpolate(directory, ctx))).resolve()
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        record.exit_code = proc.returncode
        record.output = proc.stdout + proc.stderr
        record.outcome = "success" if proc.returncode == 0 else "failure"
        record.outputs = parse_kv_file(output_file)
        state.summaries.append(summary_file.read_text(encoding="utf-8"))
        state.env.update(parse_kv_file(env_file))
        state.extra_path[:0] = [p for p in path_file.read_text().splitlines() if p.strip()]

    def _run_composite(
        self,
        record: StepResult,
        outer: Context,
        state: _JobState,
        step_env: dict[str, str],
        action_dir: Path,
    ) -> None:
        action_dir = action_dir.resolve()
        action = load_yaml(action_dir / "action.yml")
        assert action["runs"]["using"] == "composite"
        inputs: dict[str, Any] = {}
        for key, spec in action.get("inputs", {}).items():
            if key in record.with_:
                inputs[key] = to_string(record.with_[key])
            else:
                inputs[key] = to_string(spec.get("default", ""))
        unknown = set(record.with_) - set(action.get("inputs", {}))
        assert not unknown, f"{record.name}: unknown inputs {unknown}"
        github = dict(outer.values["github"])
        github["action_path"] = str(action_dir)
        values: dict[str, Any] = {
            "github": github,
            "inputs": inputs,
            "runner": outer.values["runner"],
            "env": step_env,
            "steps": {},
        }
        status = Status()
        ctx = Context(values, status)
        inner_state = _JobState(
            state.base, dict(step_env), state.workspace, state.runner_temp, state.summaries
        )
        inner_state.extra_path = state.extra_path
        for index, step in enumerate(action["runs"]["steps"]):
            if "run" in step:
                assert step.get("shell"), f"composite step {index} needs a shell"
            result = self.run_step(record.job, index, step, ctx, inner_state, action_dir)
            record.inner.append(result)
            if result.id:
                values["steps"][result.id] = {
                    "outputs": result.outputs,
                    "outcome": result.outcome,
                    "conclusion": result.outcome,
                }
            if result.outcome == "failure" and not _continue_on_error(step, ctx):
                status.failed = True
        record.outputs = {
            key: to_string(interpolate(spec.get("value", ""), ctx))
            for key, spec in action.get("outputs", {}).items()
        }
        record.outcome = "failure" if status.failed else "success"
        record.output = "\n".join(r.output for r in record.inner if r.output)
        state.env.update({k: v for k, v in inner_state.env.items() if k not in step_env})


@dataclass
class _Scope:
    """What a workflow's jobs see as `inputs` and `secrets` (a called workflow: what its caller
    passed)."""

    inputs: dict[str, Any]
    secrets: dict[str, str]
    called: bool = False


@dataclass
class _JobState:
    base: dict[str, str]
    env: dict[str, str]
    workspace: Path
    runner_temp: Path
    summaries: list[str]
    extra_path: list[str] = field(default_factory=list)


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _continue_on_error(step: dict[str, Any], ctx: Context) -> bool:
    value = step.get("continue-on-error", False)
    return bool(interpolate(value, ctx)) if isinstance(value, str) else bool(value)


def _interpolate_tree(value: Any, ctx: Context) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate_tree(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate_tree(v, ctx) for v in value]
    return interpolate(value, ctx)
