"""A fake GitHub Actions runner: walks a workflow's jobs and steps in order, evaluates the `${{ }}`
expressions they use, expands `uses: ./` into the composite action's steps, and runs every `run:`
script with bash in a checkout of a local git repository, with the `GITHUB_*` files a real runner
provides. Third-party actions (checkout, setup-python, upload-artifact, github-script) are not run:
their evaluated `with:` and `env:` are recorded for the test to check. Each job gets a fresh clone
of the origin repository (what actions/checkout does) and a fresh RUNNER_TEMP.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.workflows.expressions import Context, Status, condition, interpolate, to_string


def load_yaml(path: Path) -> dict[str, Any]:
    """A workflow or action file (PyYAML reads the key `on` as True; put it back)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    if True in data:
        data["on"] = data.pop(True)
    return data


@dataclass
class StepResult:
    """What one step did."""

    job: str
    name: str
    id: str | None
    uses: str | None
    run: str | None
    with_: dict[str, Any]
    env: dict[str, str]
    outcome: str  # success | failure | skipped
    outputs: dict[str, str] = field(default_factory=dict)
    output: str = ""  # stdout + stderr of a run step
    exit_code: int | None = None
    inner: list[StepResult] = field(default_factory=list)  # a composite action's steps


@dataclass
class JobResult:
    """What one job did."""

    name: str
    result: str  # success | failure | skipped
    environment: Any = None
    concurrency: Any = None
    workspace: Path | None = None
    runner_temp: Path | None = None
    steps: list[StepResult] = field(default_factory=list)
    summary: str = ""

    def step(self, key: str) -> StepResult:
        """A step by id or name (composite inner steps included)."""
        for step in self.all_steps():
            if key in (step.id, step.name):
                return step
        raise KeyError(f"{self.name}: no step {key!r}")

    def all_steps(self) -> list[StepResult]:
        out: list[StepResult] = []
        for step in self.steps:
            out.append(step)
            out.extend(step.inner)
        return out

    def log(self) -> str:
        """The output of every script that ran (composite steps by their inner steps)."""
        leaves = [s for s in self.all_steps() if not s.inner]
        return "\n".join(s.output for s in leaves if s.output)


@dataclass
class WorkflowRun:
    """Every job of one run."""

    jobs: dict[str, JobResult]

    def job(self, name: str) -> JobResult:
        return self.jobs[name]


def _parse_kv_file(path: Path) -> dict[str, str]:
    """`name=value` and `name<<DELIM … DELIM` lines (GITHUB_OUTPUT, GITHUB_ENV)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        heredoc = re.match(r"^([^=<]+)<<(.+)$", line)
        if heredoc:
            name, delim = heredoc.group(1), heredoc.group(2)
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i] != delim:
                body.append(lines[i])
                i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values


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
            "run_id": "4242",
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
            "GITHUB_RUN_ID": "4242",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_JOB": job,
            "RUNNER_TEMP": str(runner_temp),
            "RUNNER_OS": "Linux",
            "GIT_CONFIG_NOSYSTEM": "1",
        }

    # -- jobs -------------------------------------------------------------------------------

    def run_workflow(self, workflow: Path) -> WorkflowRun:
        data = load_yaml(workflow)
        jobs: dict[str, Any] = data["jobs"]
        results: dict[str, JobResult] = {}
        pending = list(jobs)
        while pending:
            ready = [
                name
                for name in pending
                if all(n in results for n in _needs(jobs[name]))  # in file order
            ]
            assert ready, f"cycle in needs: {pending}"
            name = ready[0]
            pending.remove(name)
            results[name] = self.run_job(name, jobs[name], data.get("env", {}), results)
        return WorkflowRun(results)

    def run_job(
        self,
        name: str,
        job: dict[str, Any],
        workflow_env: dict[str, Any],
        done: dict[str, JobResult],
    ) -> JobResult:
        needs = _needs(job)
        needs_ctx = {n: {"result": done[n].result, "outputs": {}} for n in needs}
        status = Status(
            failed=any(done[n].result == "failure" for n in needs),
            skipped_needs=any(done[n].result == "skipped" for n in needs),
        )
        ctx_values: dict[str, Any] = {
            "github": self.github_context(self.work, name),
            "inputs": self.inputs,
            "vars": self.vars,
            "secrets": self.secrets,
            "needs": needs_ctx,
            "env": {},
            "matrix": {},
        }
        ctx = Context(ctx_values, status)
        if not condition(job.get("if"), ctx):
            return JobResult(name, "skipped")

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
        result = JobResult(
            name,
            "success",
            environment=interpolate(job.get("environment"), ctx),
            concurrency=_interpolate_tree(job.get("concurrency"), ctx),
            workspace=workspace,
            runner_temp=runner_temp,
        )
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
        if "run" in step:
            self._run_script(record, step, ctx, state, step_env, action_path)
        elif record.uses is not None and record.uses.startswith("./"):
            self._run_composite(record, ctx, state, step_env)
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
        record.outputs = _parse_kv_file(output_file)
        state.summaries.append(summary_file.read_text(encoding="utf-8"))
        state.env.update(_parse_kv_file(env_file))
        state.extra_path[:0] = [p for p in path_file.read_text().splitlines() if p.strip()]

    def _run_composite(
        self, record: StepResult, outer: Context, state: _JobState, step_env: dict[str, str]
    ) -> None:
        assert record.uses is not None
        action_dir = (state.workspace / record.uses).resolve()
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


def _git(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    return proc.stdout


def git(args: list[str], cwd: Path) -> str:
    """Run git in `cwd` with a fixed identity; its stdout."""
    return _git(["-c", "user.name=Test", "-c", "user.email=test@example.com", *args], cwd)


def make_origin(source: Path, tmp: Path) -> tuple[Path, str]:
    """A bare repository `origin.git` whose main branch holds `source`'s files; (path, sha)."""
    seed = tmp / "seed"
    shutil.copytree(source, seed)
    git(["init", "--quiet", "-b", "main"], seed)
    git(["add", "-A"], seed)
    git(["commit", "--quiet", "-m", "seed"], seed)
    origin = tmp / "origin.git"
    _git(["clone", "--quiet", "--bare", str(seed), str(origin)], tmp)
    sha = git(["rev-parse", "HEAD"], seed).strip()
    return origin, sha
