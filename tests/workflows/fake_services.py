"""The GitHub side of the fake runner: concurrency groups across runs, the artifact store
(upload-artifact / download-artifact), github-script under node against a fake API, and git
helpers for the throwaway origin repositories."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.workflows.expressions import to_string
from tests.workflows.fake_results import StepResult, parse_kv_file

HARNESS = Path(__file__).with_name("github_script_harness.js")


@dataclass
class ConcurrencyBoard:
    """Concurrency groups across runs, GitHub's way: one job in progress (or waiting for an
    approval) per group, one pending behind it; a newer pending job cancels the older one."""

    holders: dict[str, str] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    def enter(self, group: str, job: str) -> str:
        """`run` when `job` may start now, else `queued` (an older pending job is cancelled)."""
        if group not in self.holders:
            self.holders[group] = job
            return "run"
        if group in self.pending:
            self.cancelled.append(self.pending[group])
        self.pending[group] = job
        return "queued"

    def leave(self, group: str, job: str) -> None:
        if self.holders.get(group) == job:
            del self.holders[group]


def upload_artifact(store: dict[str, Path], folder: Path, record: StepResult) -> None:
    """Files matching `path` (lines; a folder's files for a folder) kept under `name`; a name
    already used in the run fails, as in GitHub (actions/upload-artifact v4+)."""
    name = to_string(record.with_.get("name")) or "artifact"
    if name in store:
        record.outcome = "failure"
        record.output = f"Failed to CreateArtifact: an artifact named {name} already exists"
        return
    found: list[Path] = []
    for line in to_string(record.with_.get("path")).splitlines():
        if line.strip():
            found += [Path(p) for p in sorted(glob.glob(line.strip(), recursive=True))]
    files = [f for p in found for f in ([p] if p.is_file() else sorted(p.rglob("*")))]
    files = [f for f in files if f.is_file()]
    if not files and to_string(record.with_.get("if-no-files-found")) == "error":
        record.outcome = "failure"
        return
    target = folder / name
    target.mkdir(parents=True)
    roots = [p if p.is_dir() else p.parent for p in found]
    common = Path(os.path.commonpath([str(r) for r in roots])) if roots else target
    for file in files:
        dest = target / file.relative_to(common)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, dest)
    store[name] = target
    record.outcome = "success"
    record.outputs = {"artifact-id": str(len(store))}


def download_artifact(store: dict[str, Path], record: StepResult) -> None:
    """The artifact `name` copied into `path`; a missing one fails the step."""
    name = to_string(record.with_.get("name"))
    dest = Path(to_string(record.with_.get("path")) or ".")
    if name not in store:
        record.outcome = "failure"
        record.output = f"Unable to download artifact(s): Artifact not found for name: {name}"
        return
    shutil.copytree(store[name], dest, dirs_exist_ok=True)
    record.outcome = "success"


def run_github_script(
    api: dict[str, Any], record: StepResult, folder: Path, number: int
) -> list[tuple[str, dict[str, Any]]]:
    """Run a github-script step's script under node against the fake API `api`; the step's
    outcome and core.setOutput outputs go to `record`; returns the writes it made."""
    node = shutil.which("node")
    assert node is not None, "node is needed to run github-script steps"
    folder.mkdir(exist_ok=True)
    script = folder / f"github-script-{number}.js"
    script.write_text(to_string(record.with_.get("script")), encoding="utf-8")
    state_file = folder / f"api-{number}.json"
    state_file.write_text(json.dumps(api), encoding="utf-8")
    calls_file = folder / f"calls-{number}.json"
    output_file = folder / f"output-{number}"
    proc = subprocess.run(
        [node, str(HARNESS), str(state_file), str(script), str(calls_file)],
        env={"PATH": "/usr/bin:/bin", **record.env, "GITHUB_OUTPUT": str(output_file)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    record.exit_code = proc.returncode
    record.output = proc.stdout + proc.stderr
    record.outcome = "success" if proc.returncode == 0 else "failure"
    record.outputs = parse_kv_file(output_file)
    if not calls_file.exists():
        return []
    return [(method, params) for method, params in json.loads(calls_file.read_text())]


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
