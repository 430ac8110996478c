"""SIGINT and SIGTERM against a real `kbctl apply` process (DESIGN §10): the first signal stops
at the next safe point (exit 130/143, summary, detail, hint, `interrupted` snapshot, uploads
kept for the next run), a second quits at once, and the rerun converges without re-uploading."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_plan_cli import write_project

pytestmark = pytest.mark.slow


def _env(root: Path, index_seconds: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELEVENLABS_", "GITHUB_"))}
    env["ELEVENLABS_BASE_URL"] = f"emulator://{root}/emu?index_seconds={index_seconds}"
    return env


def _start(root: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kbctl", "apply", "-e", "local", "--auto-approve", *extra],
        cwd=root,
        env=_env(root, 60),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines_until(proc: subprocess.Popen[str], needle: str) -> Iterator[str]:
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        yield line
        if needle in line or time.monotonic() > deadline:
            return


def _interrupt_at_gate(root: Path, sig: int, *extra: str) -> tuple[int, str, str]:
    proc = _start(root, *extra)
    seen = "".join(_lines_until(proc, "waiting for" if not extra else '"phase": "index"'))
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, seen + out, err


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 3)
    return tmp_path


def _outcomes(root: Path) -> list[str]:
    folder = root / "state-snapshots" / "local"
    return [json.loads(p.read_text())["outcome"] for p in sorted(folder.glob("*.json"))]


def test_sigint_at_the_gate_exits_130_keeps_uploads_and_the_rerun_reuses_them(repo: Path) -> None:
    code, out, err = _interrupt_at_gate(repo, signal.SIGINT)
    assert "uploading 3 document(s)" in out
    assert code == 130, err
    assert "Traceback" not in err
    assert "Error: Apply of alpha/local (agent agent_alpha) stopped by SIGINT" in err
    assert "The agent was not changed. 3 uploaded document(s) kept" in err
    assert "Hint: Rerun `kbctl apply -e local` to continue without re-uploading." in err
    assert "interrupted" in _outcomes(repo)

    rerun = subprocess.run(
        [sys.executable, "-m", "kbctl", "apply", "-e", "local", "--auto-approve"],
        cwd=repo,
        env=_env(repo, 0),
        capture_output=True,
        text=True,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("reused alpha/") == 3
    assert "created alpha/" not in rerun.stdout
    plan = subprocess.run(
        [sys.executable, "-m", "kbctl", "plan", "-e", "local", "--detailed-exitcode"],
        cwd=repo,
        env=_env(repo, 0),
        capture_output=True,
        text=True,
        check=False,
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr


def test_sigterm_with_json_exits_143_and_ends_with_an_error_event(repo: Path) -> None:
    code, out, err = _interrupt_at_gate(repo, signal.SIGTERM, "--json")
    assert code == 143, err
    last = json.loads(out.strip().splitlines()[-1])
    assert last["event"] == "error" and last["exit_code"] == 143
    assert "SIGTERM" in last["summary"]


def test_a_second_signal_quits_at_once(repo: Path) -> None:
    proc = _start(repo)
    "".join(_lines_until(proc, "waiting for"))
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
