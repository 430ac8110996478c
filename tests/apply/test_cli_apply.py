"""`kbctl apply` through click: manifests in tmp_path, the embedded emulator, real wiring."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kbctl.cli.main import cli
from kbctl.clock import SystemClock
from kbctl.emulator import World, open_emulator
from kbctl.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
FILLER = "Flats from 45 to 120 m², parking, schools and parks nearby. " * 12

MANIFEST = """\
version: 1
project: demo
rag:
  enabled: true
  embedding_model: multilingual_e5_large_instruct
policy:
  index_timeout: 60
  small_documents: prompt
  max_deletes: {max_deletes}
documents:
  - glob: docs/*.md
    usage_mode: auto
environments:
  local:
    base_url: emulator://.kbctl/emulator
    agent_id: agent_local
"""

Run = Callable[..., Result]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with manifests/kb.yaml and three documents; the emulator in tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ELEVENLABS_BASE_URL", f"emulator://{tmp_path}/emu?index_seconds=0")
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    (tmp_path / "manifests").mkdir()
    write_manifest(tmp_path)
    for i in range(3):
        write_doc(tmp_path, f"q{i}.md", f"# Quarter {i}\n\n{FILLER}")
    return tmp_path


def write_manifest(root: Path, max_deletes: int = 10) -> None:
    (root / "manifests" / "kb.yaml").write_text(MANIFEST.format(max_deletes=max_deletes))


def write_doc(root: Path, name: str, text: str) -> None:
    folder = root / "manifests" / "docs"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def run() -> Run:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def world(root: Path) -> World:
    """The emulator's saved workspace (read with the real clock, as kbctl wrote it)."""
    return open_emulator(f"emulator://{root}/emu", SystemClock()).world


def kb_ids(root: Path) -> list[str]:
    agent = world(root).agent("agent_local")
    assert agent is not None
    return [str(e["id"]) for e in agent.knowledge_base]


def apply_ok(run: Run, *extra: str) -> Result:
    result = run("apply", "-e", "local", "--auto-approve", "--snapshots-dir", "snaps", *extra)
    assert result.exit_code == 0, result.output
    return result


def test_first_apply_of_the_example_manifest_then_nothing_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ELEVENLABS_BASE_URL", f"emulator://{tmp_path}/emu?index_seconds=0")
    result = apply_ok(run)
    assert "Apply complete" in result.output
    assert "created quarters/old-mill.md" in result.output
    assert "index gate passed" in result.output
    assert list((tmp_path / "snaps").rglob("*.json"))  # before/after snapshots
    plan = run("plan", "-e", "local", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    again = apply_ok(run)
    assert "No changes." in again.output


def test_a_one_line_change_is_one_replace(project: Path, run: Run) -> None:
    apply_ok(run)
    before = set(kb_ids(project))
    write_doc(project, "q1.md", f"# Quarter 1\n\n{FILLER}\nNew: a playground opens in May.\n")
    result = apply_ok(run)
    assert "created docs/q1.md" in result.output
    assert "deleted docs/q1.md" in result.output
    assert "1 replaced" in result.output
    after = set(kb_ids(project))
    assert len(before - after) == 1 and len(after - before) == 1
    assert len(world(project).documents()) == 3
    assert run("plan", "-e", "local", "--detailed-exitcode").exit_code == 0


def test_without_a_terminal_apply_needs_auto_approve(project: Path, run: Run) -> None:
    result = run("apply", "-e", "local")
    assert result.exit_code == ExitCode.ERROR
    assert "Refusing to apply without confirmation" in result.output
    assert not (project / "emu").exists()  # refused before any API call


def test_a_saved_plan_applies_and_a_stale_one_is_refused(project: Path, run: Run) -> None:
    assert run("plan", "-e", "local", "--out", "plan.json").exit_code == 0
    write_doc(project, "q9.md", f"# Quarter 9\n\n{FILLER}")  # manifest edited since
    stale = run("apply", "-e", "local", "plan.json")
    assert stale.exit_code == ExitCode.STALE, stale.output
    assert "Saved plan is stale" in stale.output
    assert kb_ids(project) == []
    assert run("plan", "-e", "local", "--out", "plan.json").exit_code == 0
    result = run("apply", "-e", "local", "--snapshots-dir", "snaps", "plan.json")
    assert result.exit_code == 0, result.output
    assert len(kb_ids(project)) == 4
    # Applying the same file again: the live state moved on since it was made.
    again = run("apply", "-e", "local", "plan.json")
    assert again.exit_code == ExitCode.STALE
    assert "live knowledge base changed" in again.output


def test_an_index_failure_exits_3_with_the_agent_unchanged(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_ok(run)
    before_ids = kb_ids(project)
    before_docs = {d.id for d in world(project).documents()}
    monkeypatch.setenv(
        "ELEVENLABS_BASE_URL",
        f"emulator://{project}/emu?index_seconds=0&fail_index_containing=BROKEN",
    )
    write_doc(project, "q1.md", f"# Quarter 1 BROKEN\n\n{FILLER}")
    write_doc(project, "q5.md", f"# Quarter 5\n\n{FILLER}")
    result = run("apply", "-e", "local", "--auto-approve", "--snapshots-dir", "snaps")
    assert result.exit_code == ExitCode.INDEX_GATE, result.output
    assert "docs/q1.md: failed" in result.output
    assert "The agent was not changed" in result.output
    assert kb_ids(project) == before_ids
    assert {d.id for d in world(project).documents()} == before_docs


def test_deleting_over_max_deletes_needs_allow_destroy(project: Path, run: Run) -> None:
    apply_ok(run)
    write_manifest(project, max_deletes=1)
    for name in ("q0.md", "q1.md"):
        (project / "manifests" / "docs" / name).unlink()
    refused = run("apply", "-e", "local", "--auto-approve")
    assert refused.exit_code == ExitCode.POLICY, refused.output
    assert "--allow-destroy" in refused.output
    assert len(kb_ids(project)) == 3
    result = apply_ok(run, "--allow-destroy")
    assert "2 deleted" in result.output
    assert len(kb_ids(project)) == 1


def test_json_progress_is_one_object_per_line(project: Path, run: Run) -> None:
    result = apply_ok(run, "--json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    names = [e["event"] for e in events]
    assert names[0] == "plan_started"
    assert names[-1] == "run_finished"
    assert names.count("document_created") == 3
    assert "gate_passed" in names and "agent_updated" in names
    assert all("time" in e for e in events)


def test_json_progress_ends_with_an_error_event_when_apply_stops(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_ok(run)
    monkeypatch.setenv(
        "ELEVENLABS_BASE_URL",
        f"emulator://{project}/emu?index_seconds=0&fail_index_containing=BROKEN",
    )
    write_doc(project, "q1.md", f"# Quarter 1 BROKEN\n\n{FILLER}")
    result = run("apply", "-e", "local", "--auto-approve", "--snapshots-dir", "snaps", "--json")
    assert result.exit_code == ExitCode.INDEX_GATE
    events = [json.loads(line) for line in result.stdout.splitlines()]
    last = events[-1]
    assert last["event"] == "error"
    assert last["exit_code"] == ExitCode.INDEX_GATE
    assert "docs/q1.md: failed" in last["detail"]
    assert last["summary"] and last["hint"]
