"""The action's helper scripts on their own: input checks, installation from the lock, reading
kbctl's result, and the state branch that keeps the snapshots."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflows.conftest import ROOT
from tests.workflows.fake_runner import git

SCRIPTS = ROOT / "scripts" / "ci"


def run_script(
    name: str, env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        cwd=cwd,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("command", "environment", "message"),
    [
        ("deploy", "staging", "Unknown command 'deploy'"),
        ("plan", "", "kbctl plan needs the environment input"),
        ("apply", "stag ing; rm -rf /", "Invalid environment name"),
        ("apply", "x\n::warning::injected", "Invalid environment name 'x%0A::warning::injected'"),
    ],
)
def test_bad_inputs_fail_with_an_annotation(
    tmp_path: Path, command: str, environment: str, message: str
) -> None:
    result = run_script(
        "kbctl-run.sh",
        {"KBCTL_COMMAND": command, "KBCTL_ENVIRONMENT": environment, "RUNNER_TEMP": str(tmp_path)},
        tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("::error title=kbctl::")
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("variable", "secret"),
    [
        ("KBCTL_API_KEY", "sk_input_secret_123"),
        ("KBCTL_OPENAI_API_KEY", "sk-proj-input-secret-456"),
        ("KBCTL_NOTIFY_WEBHOOK", "https://hooks.slack.com/services/T0/B0/secret789"),
    ],
)
def test_an_api_key_or_webhook_input_is_masked_and_never_echoed(
    tmp_path: Path, variable: str, secret: str
) -> None:
    result = run_script("kbctl-run.sh", {"KBCTL_COMMAND": "nope", variable: secret}, tmp_path)
    lines = (result.stdout + result.stderr).splitlines()
    assert f"::add-mask::{secret}" in lines
    assert not [line for line in lines if secret in line and "add-mask" not in line]


def test_one_variable_cannot_hold_both_keys(tmp_path: Path) -> None:
    env = {
        "KBCTL_COMMAND": "plan",
        "KBCTL_API_KEY": "sk_a",
        "KBCTL_OPENAI_API_KEY": "sk-b",
        "KBCTL_OPENAI_API_KEY_ENV": "ELEVENLABS_API_KEY",
    }
    result = run_script("kbctl-run.sh", env, tmp_path)
    assert result.returncode == 1
    assert "api-key-env and openai-api-key-env are both ELEVENLABS_API_KEY" in result.stderr


@pytest.mark.parametrize(
    ("version", "requirement"),
    [("", "SOURCE"), ("0.1.0", "kbctl==0.1.0"), ("kbctl>=0.1,<1", "kbctl>=0.1,<1")],
)
def test_install_goes_into_its_own_venv_from_the_lock_once_per_job(
    tmp_path: Path, fake_bin: Path, version: str, requirement: str
) -> None:
    source = tmp_path / "action"
    source.mkdir()
    (source / "pyproject.toml").write_text("[project]\nname = 'kbctl'\n")
    temp = tmp_path / "temp"
    env = {
        "KBCTL_VERSION": version,
        "KBCTL_SOURCE": str(source),
        "RUNNER_TEMP": str(temp),
        "PATH": f"{fake_bin}:/usr/bin:/bin",
    }
    for _ in range(2):
        env["GITHUB_OUTPUT"] = str(tmp_path / "out")
        result = run_script("install.sh", env, tmp_path)
        assert result.returncode == 0, result.stderr
    log = (tmp_path / "pip.log").read_text().splitlines()
    (venv_line,) = [line for line in log if line.startswith("venv ")]
    venv = venv_line.split(" ", 1)[1]
    assert venv.startswith(str(temp / "kbctl-venv-"))  # never the job's own Python
    lock = SCRIPTS / "requirements.txt"
    expected = str(source) if requirement == "SOURCE" else requirement
    pip = [line for line in log if not line.startswith("venv ")]
    assert pip[0].endswith(f"install --require-hashes --no-deps -r {lock}")
    assert pip[1].endswith(expected) and "--no-deps" in pip[1]
    assert len(pip) == 2  # the second run reused the environment
    outputs = (tmp_path / "out").read_text()
    assert f"kbctl={venv}/bin/kbctl" in outputs


def test_install_without_a_source_asks_for_a_version(tmp_path: Path) -> None:
    result = run_script("install.sh", {"KBCTL_SOURCE": str(tmp_path)}, tmp_path)
    assert result.returncode == 1
    assert "set the kbctl-version input" in result.stderr


def test_the_lock_pins_every_runtime_dependency_by_hash() -> None:
    import tomllib

    lock = (SCRIPTS / "requirements.txt").read_text()
    pinned = {
        line.split("==")[0].lower()
        for line in lock.splitlines()
        if line and not line[0].isspace() and "==" in line
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dependency in project["dependencies"]:
        name = re.split(r"[<>=!~\[; ]", dependency, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pinned, f"{name} is not in requirements.txt"
    assert "setuptools" in pinned  # builds kbctl from the action's source offline
    blocks = re.split(r"\n(?=\S)", lock.split("\n\n", 1)[-1])
    for block in blocks:
        if "==" in block:
            assert "--hash=sha256:" in block, block.splitlines()[0]


# -- plan results: kbctl's answer, not its exit code ------------------------------------------


def plan_run(tmp_path: Path, fake_bin: Path, kbctl_bin: Path, args: str) -> tuple[int, str, str]:
    work = tmp_path / "work"
    shutil.copytree(
        ROOT / "manifests", work / "manifests", ignore=shutil.ignore_patterns("__pycache__")
    )
    outputs = tmp_path / "outputs"
    env = {
        "KBCTL_COMMAND": "plan",
        "KBCTL_ENVIRONMENT": "staging",
        "KBCTL_ARGS": args,
        "RUNNER_TEMP": str(tmp_path / "temp"),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "ELEVENLABS_API_KEY": "sk_x",
        "ELEVENLABS_AGENT_ID_STAGING": "agent_staging",
        "ELEVENLABS_BASE_URL": f"emulator://{tmp_path / 'emu'}?index_seconds=0",
        "PATH": f"{fake_bin}:{kbctl_bin}:/usr/bin:/bin",
    }
    result = run_script("kbctl-run.sh", env, work)
    return result.returncode, outputs.read_text(), result.stdout + result.stderr


def test_a_usage_error_in_args_fails_the_plan_step(
    tmp_path: Path, fake_bin: Path, kbctl_bin: Path
) -> None:
    # The old docs' example: flags `plan` does not have. Whatever kbctl exits with (click's 2,
    # or 1), no plan was written, so the step fails.
    code, outputs, log = plan_run(tmp_path, fake_bin, kbctl_bin, "--allow-destroy --concurrency 4")
    assert code != 0, log
    assert "status=error" in outputs
    assert "has-changes" not in outputs


def test_a_plan_with_changes_succeeds_with_its_status(
    tmp_path: Path, fake_bin: Path, kbctl_bin: Path
) -> None:
    code, outputs, log = plan_run(tmp_path, fake_bin, kbctl_bin, "")
    assert code == 0, log
    assert "status=changes" in outputs and "has-changes=true" in outputs


@pytest.mark.parametrize(
    ("plan", "code", "status", "ok"),
    [
        ({"environment": "staging", "has_changes": True}, 2, "changes", True),
        ({"environment": "staging", "has_changes": False}, 0, "no-changes", True),
        (None, 2, "error", False),  # exit 2 without a plan: a usage error
        (None, 0, "error", False),
        ({"environment": "production", "has_changes": True}, 2, "error", False),  # not ours
        ({"environment": "staging", "has_changes": False}, 2, "error", False),  # contradiction
        ({"environment": "staging", "has_changes": True}, 1, "failing", False),
        ({"environment": "staging", "has_changes": True}, 5, "refused", False),
        (
            {
                "environment": "staging",
                "has_changes": True,
                "agents": [{"findings": [{"code": "protected", "message": "2 deletions"}]}],
            },
            2,
            "refused",
            False,
        ),
    ],
)
def test_plan_result_reads_the_plan_file(
    tmp_path: Path, plan: dict[str, object] | None, code: int, status: str, ok: bool
) -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import ci_results
    finally:
        sys.path.pop(0)
    path = tmp_path / "plan.json"
    if plan is not None:
        path.write_text(json.dumps(plan))
    outcome = ci_results.plan_result(path, "staging", code, allow_destroy=False)
    assert (outcome.status, outcome.ok) == (status, ok)


# -- the state branch ---------------------------------------------------------------------------


def checkout_with_origin(tmp_path: Path) -> tuple[Path, Path]:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("hello\n")
    git(["init", "--quiet", "-b", "main"], seed)
    git(["add", "-A"], seed)
    git(["commit", "--quiet", "-m", "init"], seed)
    origin = tmp_path / "origin.git"
    git(["clone", "--quiet", "--bare", str(seed), str(origin)], tmp_path)
    work = tmp_path / "work"
    git(["clone", "--quiet", str(origin), str(work)], tmp_path)
    return origin, work


def write_snapshot(work: Path, name: str) -> None:
    folder = work / "state-snapshots" / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("{}\n")


def test_snapshots_go_to_the_state_branch_and_come_back(tmp_path: Path) -> None:
    origin, work = checkout_with_origin(tmp_path)
    env = {
        "KBCTL_STATE_BRANCH": "kbctl/state",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    first = run_script("state-branch.sh", env, work, "fetch")
    assert first.returncode == 0 and "No kbctl/state branch yet" in first.stdout
    write_snapshot(work, "20260101T000000Z-aaaa1111.json")
    (work / "README.md").write_text("edited, never committed by kbctl\n")
    pushed = run_script("state-branch.sh", env, work, "push", "staging", "apply")
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed=true" in (tmp_path / "out").read_text()
    files = git(["ls-tree", "-r", "--name-only", "kbctl/state"], origin).split()
    assert files == ["state-snapshots/staging/20260101T000000Z-aaaa1111.json"]
    assert git(["log", "--format=%s", "main"], origin).split("\n")[0] == "init"  # main untouched
    assert "README.md" in git(["status", "--porcelain"], work)
    assert git(["rev-parse", "--abbrev-ref", "HEAD"], work).strip() == "main"

    # Another job's checkout reads them, adds its own on top.
    other = tmp_path / "other"
    git(["clone", "--quiet", str(origin), str(other)], tmp_path)
    fetched = run_script("state-branch.sh", env, other, "fetch")
    assert "Read 1 snapshot record(s)" in fetched.stdout
    assert (other / "state-snapshots/staging/20260101T000000Z-aaaa1111.json").exists()
    write_snapshot(other, "20260102T000000Z-bbbb2222.json")
    assert run_script("state-branch.sh", env, other, "push", "staging", "apply").returncode == 0
    # Nothing new: nothing pushed.
    again = run_script("state-branch.sh", env, other, "push", "staging", "apply")
    assert "No new snapshots" in again.stdout
    files = git(["ls-tree", "-r", "--name-only", "kbctl/state"], origin).split()
    assert len(files) == 2


def test_a_rejected_push_fails_at_once_with_the_servers_words(tmp_path: Path) -> None:
    origin, work = checkout_with_origin(tmp_path)
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f'echo attempt >> "{tmp_path}/attempts"\n'
        'echo "error: GH013: Repository rule violations found for refs/heads/kbctl/state." >&2\n'
        "exit 1\n"
    )
    hook.chmod(0o755)
    write_snapshot(work, "20260101T000000Z-aaaa1111.json")
    env = {
        "KBCTL_STATE_BRANCH": "kbctl/state",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    result = run_script("state-branch.sh", env, work, "push", "staging", "apply")
    assert result.returncode == 1
    assert "::error title=kbctl snapshots not pushed::" in result.stdout
    assert "GH013" in result.stdout
    assert (tmp_path / "attempts").read_text().count("attempt") == 1  # no blind retries
    assert "pushed=false" in (tmp_path / "out").read_text()
