"""What the fake runner reports (steps, jobs, runs) and how it reads the files a runner gives
steps (GITHUB_OUTPUT, GITHUB_ENV) and workflow YAML."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


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
    result: str  # success | failure | skipped | waiting (for approval) | queued | cancelled
    environment: Any = None
    outputs: dict[str, str] = field(default_factory=dict)
    called: WorkflowRun | None = None  # a reusable workflow's jobs
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
        """A job by id; `caller/callee` (or the callee id alone) reaches into reusable workflows."""
        if name in self.jobs:
            return self.jobs[name]
        head, _, rest = name.partition("/")
        if rest and head in self.jobs and self.jobs[head].called is not None:
            called = self.jobs[head].called
            assert called is not None
            return called.job(rest)
        for job in self.jobs.values():
            if job.called is not None:
                try:
                    return job.called.job(name)
                except KeyError:
                    continue
        raise KeyError(name)


def parse_kv_file(path: Path) -> dict[str, str]:
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
