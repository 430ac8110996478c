"""The issue's checks end to end against `kbctl emulator serve` over a real socket: kbctl runs as
a process, the emulator as another, with the behaviour flags of the real API switched on."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_socket_test_key"
AGENT = "agent_socket"
MODEL = "multilingual_e5_large_instruct"
KB = "/v1/convai/knowledge-base"

pytestmark = pytest.mark.slow


def _text(tag: str) -> str:
    return f"# {tag}\n\n" + f"{tag}: opening hours, parking and prices for the quarter. " * 20


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    cmd = [
        sys.executable, "-m", "kbctl", "emulator", "serve", "--port", "0",
        "--state", str(tmp_path / "state"), "--api-key", KEY, "--agent", AGENT,
        "--index-seconds", "0.4", "--index-pending-status", "queued",
        "--dependency-lag-seconds", "2",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), (url, proc.stderr)
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _manifest(root: Path, url: str, docs: dict[str, str]) -> None:
    (root / "manifests" / "docs").mkdir(parents=True, exist_ok=True)
    for old in (root / "manifests" / "docs").iterdir():
        old.unlink()
    for name, text in docs.items():
        (root / "manifests" / "docs" / f"{name}.md").write_text(text, encoding="utf-8")
    (root / "manifests" / "kb.yaml").write_text(
        "version: 1\n"
        "project: socket\n"
        f"rag: {{enabled: true, embedding_model: {MODEL}}}\n"
        "policy: {index_timeout: 30}\n"
        "documents:\n"
        "  - glob: docs/*.md\n"
        "environments:\n"
        f"  local: {{agent_id: {AGENT}, base_url: '{url}'}}\n",
        encoding="utf-8",
    )


def _kbctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ELEVENLABS_API_KEY": KEY}
    env.pop("ELEVENLABS_BASE_URL", None)
    env.pop("GITHUB_ACTIONS", None)
    return subprocess.run(
        [sys.executable, "-m", "kbctl", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_reindex_edit_pending_status_and_dependency_lag(served: str, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _manifest(root, served, {"a": _text("a"), "b": _text("b")})
    with httpx.Client(base_url=served, headers={"xi-api-key": KEY}) as api:
        _check(root, api)


def _check(root: Path, api: httpx.Client) -> None:

    first = _kbctl(root, "apply", "-e", "local", "--auto-approve")  # indexes report `queued` first
    assert first.returncode == 0, first.stdout + first.stderr
    assert _kbctl(root, "plan", "-e", "local", "--detailed-exitcode").returncode == 0

    # A deleted index: reindex, restored by apply.
    agent = api.get(f"/v1/convai/agents/{AGENT}").json()
    entries = agent["conversation_config"]["agent"]["prompt"]["knowledge_base"]
    doc_a = next(e["id"] for e in entries if e["name"].startswith("docs/a.md"))
    (index,) = api.get(f"{KB}/{doc_a}/rag-index").json()["indexes"]
    api.delete(f"{KB}/{doc_a}/rag-index/{index['id']}").raise_for_status()
    plan = _kbctl(root, "plan", "-e", "local", "--detailed-exitcode", "--format", "json")
    assert plan.returncode == 2, plan.stderr
    data = json.loads(plan.stdout)
    assert data["summary"]["reindex"] == 1
    assert [c["action"] for c in data["changes"] if c["key"] == "docs/a.md"] == ["reindex"]
    status = _kbctl(root, "status", "-e", "local", "--detailed-exitcode")
    assert status.returncode == 2, status.stdout + status.stderr
    assert _kbctl(root, "apply", "-e", "local", "--auto-approve").returncode == 0
    (index,) = api.get(f"{KB}/{doc_a}/rag-index").json()["indexes"]
    assert index["status"] == "succeeded"
    assert _kbctl(root, "plan", "-e", "local", "--detailed-exitcode").returncode == 0
    assert _kbctl(root, "status", "-e", "local", "--detailed-exitcode").returncode == 0

    # An in-place edit: replace (edited in place); apply restores the declared content, and the
    # superseded document is deleted although the API calls it in use for 2 s after the swap.
    api.patch(f"{KB}/{doc_a}", json={"content": "We are CLOSED forever"}).raise_for_status()
    plan = _kbctl(root, "plan", "-e", "local", "--detailed-exitcode")
    assert plan.returncode == 2 and "edited in place" in plan.stdout, plan.stdout
    applied = _kbctl(root, "apply", "-e", "local", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert api.get(f"{KB}/{doc_a}").status_code == 404  # no superseded document remains
    names = [d["name"] for d in api.get(KB, params={"page_size": 100}).json()["documents"]]
    assert sum(1 for n in names if n.startswith("docs/a.md")) == 1
    assert _kbctl(root, "plan", "-e", "local", "--detailed-exitcode").returncode == 0
