"""`kbctl plan` end to end: manifests in tmp_path, real wiring, the provider, the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli
from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, EmulatorServer, World
from tests.harness import kbctl, offline

FILLER = "Flats from 45 to 120 m², parking, schools and parks nearby. " * 12

MANIFEST = """\
version: 1
project: {project}
rag:
  enabled: true
  embedding_model: multilingual_e5_large_instruct
documents:
  - glob: {folder}/*.md
environments:
  local:
    base_url: emulator://.kbctl/emulator
    agent_id: {agent}
"""


def write_project(root: Path, project: str, agent: str, folder: str, count: int) -> Path:
    (root / "manifests" / folder).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (root / "manifests" / folder / f"d{i:02}.md").write_text(f"# {folder} {i}\n\n{FILLER}")
    path = root / "manifests" / f"{project}.yaml"
    path.write_text(MANIFEST.format(project=project, agent=agent, folder=folder))
    return path


run = kbctl


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(tmp_path, monkeypatch)
    write_project(tmp_path, "alpha", "agent_alpha", "alpha", 4)
    return tmp_path


def test_plan_on_an_empty_agent_creates_everything_and_exits_2(repo: Path) -> None:
    result = run("plan", "-e", "local", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    assert (
        "Plan: 4 to create, 0 to replace, 0 to update, 0 to delete, 0 unchanged." in result.output
    )
    assert result.output.count("+ alpha/d0") == 4


def test_plan_json_and_out_file_carry_the_contract_fields(repo: Path) -> None:
    result = run("plan", "-e", "local", "--format", "json", "--out", "plan.json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    saved = json.loads((repo / "plan.json").read_text())
    assert printed == saved
    for field in ("format_version", "environment", "fingerprint", "changes", "summary"):
        assert field in saved
    assert saved["environment"] == "local"
    assert saved["summary"] == {
        "create": 4,
        "replace": 0,
        "update": 0,
        "delete": 0,
        "noop": 0,
        "reindex": 0,
    }
    assert {c["action"] for c in saved["changes"]} == {"create"}
    assert sorted(c["key"] for c in saved["changes"]) == [f"alpha/d{i:02}.md" for i in range(4)]


def test_plan_json_lists_unchanged_documents_and_the_plan_file_summarises_them(
    repo: Path,
) -> None:
    assert run("apply", "-e", "local", "--auto-approve").exit_code == 0
    (repo / "manifests" / "alpha" / "d01.md").write_text(f"# alpha 1, edited\n\n{FILLER}")
    result = run("plan", "-e", "local", "--format", "json", "--out", "plan.json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    saved = json.loads((repo / "plan.json").read_text())
    listed = sorted((c["action"], c["key"]) for c in printed["changes"])
    kept = [("noop", f"alpha/d{i:02}.md") for i in (0, 2, 3)]
    assert listed == [*kept, ("replace", "alpha/d01.md")]
    assert [(c["action"], c["key"]) for c in saved["changes"]] == [("replace", "alpha/d01.md")]
    assert printed["summary"] == saved["summary"] and saved["summary"]["noop"] == 3
    # What a script captured from stdout is a plan apply takes, like the --out file.
    (repo / "printed.json").write_text(result.stdout)
    applied = run("apply", "-e", "local", "printed.json", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert run("plan", "-e", "local", "--detailed-exitcode").exit_code == 0


def test_plan_is_quiet_and_exits_0_after_apply(repo: Path) -> None:
    assert run("apply", "-e", "local", "--auto-approve").exit_code == 0
    result = run("plan", "-e", "local", "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert "No changes." in result.output


def test_plan_markdown_is_a_sticky_comment(repo: Path) -> None:
    result = run("plan", "-e", "local", "--format", "markdown")
    assert result.exit_code == 0
    assert result.output.startswith("<!-- kbctl-plan:local -->")
    assert "| agent | create | replace | update | delete | unchanged | findings |" in result.output
    assert "| `agent_alpha` · `manifests/alpha.yaml` | 4 | 0 | 0 | 0 | 0 |" in result.output
    assert "<details>" in result.output
    assert len(result.output) < 65_000


def test_several_manifests_give_one_plan_per_agent_and_one_exit_code(repo: Path) -> None:
    write_project(repo, "beta", "agent_beta", "beta", 2)
    result = run("plan", "-e", "local", "--format", "json", "--detailed-exitcode")
    assert result.exit_code == 2
    plan = json.loads(result.stdout)
    assert sorted(a["agent_id"] for a in plan["agents"]) == ["agent_alpha", "agent_beta"]
    assert plan["summary"]["create"] == 6
    only_beta = run("plan", "-e", "local", "-f", "manifests/beta.yaml", "--format", "json")
    assert [a["agent_id"] for a in json.loads(only_beta.stdout)["agents"]] == ["agent_beta"]


def test_plan_is_correct_under_injected_5xx_and_a_concurrency_limit(repo: Path) -> None:
    assert run("apply", "-e", "local", "--auto-approve").exit_code == 0
    # One document changes, one disappears: the faulty workspace must give the same plan.
    (repo / "manifests/alpha/d00.md").write_text("# alpha 0, new prices\n\n" + FILLER)
    (repo / "manifests/alpha/d03.md").unlink()
    clean = run("plan", "-e", "local", "--format", "json")
    assert clean.exit_code == 0, clean.output
    faulty_url = f"emulator://{repo}/emu?index_seconds=0&fail_rate=0.2&max_concurrency=3&seed=7"
    faulty = CliRunner(env={"ELEVENLABS_BASE_URL": faulty_url}).invoke(
        cli, ["plan", "-e", "local", "--format", "json"]
    )
    assert faulty.exit_code == 0, faulty.output
    assert json.loads(faulty.stdout) == json.loads(clean.stdout)
    assert "retrying in" in faulty.stderr  # retries are visible
    summary = json.loads(clean.stdout)["summary"]
    assert (summary["replace"], summary["delete"], summary["noop"]) == (1, 1, 2)


def test_rejected_key_is_one_clear_line_and_never_printed(tmp_path: Path) -> None:
    world = World(EmulatorConfig(api_key="the-right-key"), SystemClock())
    world.create_agent("agent_alpha")
    server = EmulatorServer(EmulatorApp(world), "127.0.0.1", 0)
    server.start()
    try:
        write_project(tmp_path, "alpha", "agent_alpha", "alpha", 1)
        secret = "sk_wrong_secret_value_123"
        result = CliRunner(
            env={"ELEVENLABS_BASE_URL": server.url, "ELEVENLABS_API_KEY": secret}
        ).invoke(cli, ["plan", "-e", "local", "-f", str(tmp_path / "manifests/alpha.yaml")])
    finally:
        server.stop()
    assert result.exit_code == 1
    assert "API key rejected" in result.output
    assert secret not in result.output
    assert "Traceback" not in result.output


def test_unknown_agent_is_named(repo: Path) -> None:
    world = World(EmulatorConfig(), SystemClock())
    server = EmulatorServer(EmulatorApp(world), "127.0.0.1", 0)
    server.start()
    try:
        result = CliRunner(
            env={"ELEVENLABS_BASE_URL": server.url, "ELEVENLABS_API_KEY": "k"}
        ).invoke(cli, ["plan", "-e", "local"])
    finally:
        server.stop()
    assert result.exit_code == 1
    assert "agent_alpha" in result.output
    assert "not found" in result.output


def test_plan_annotates_findings_on_their_manifest_line_in_github_actions(repo: Path) -> None:
    (repo / "manifests/alpha/tiny.md").write_text("# tiny\n")
    env = {"GITHUB_ACTIONS": "true"}
    result = CliRunner(env=env).invoke(cli, ["plan", "-e", "local", "--format", "json"])
    assert result.exit_code == 0, result.output
    # The default manifests/*.yaml are named relative to the working directory, in the plan too.
    findings = json.loads(result.stdout)["agents"][0]["findings"]
    small = [f for f in findings if f["code"] == "small_document"]
    assert [(f["file"], f["line"], f["severity"]) for f in small] == [
        ("manifests/alpha.yaml", 7, "info")
    ]
    # The policy handles the small document (info) and nothing is indexed yet for the old
    # model (no model_change): nothing to annotate.
    assert [line for line in result.stderr.splitlines() if line.startswith("::")] == []

    manifest = repo / "manifests/alpha.yaml"
    manifest.write_text(manifest.read_text() + "policy:\n  small_documents: fail\n")
    result = CliRunner(env=env).invoke(cli, ["plan", "-e", "local", "--format", "json"])
    assert result.exit_code == 1, result.output
    annotations = [line for line in result.stderr.splitlines() if line.startswith("::")]
    assert annotations == [
        "::error file=manifests/alpha.yaml,line=7,title=kbctl plan local::small_document: "
        "alpha/tiny.md: 7 bytes < 500: cannot be indexed; apply will stop at the index gate "
        "(policy small_documents: fail)",
        "::error title=kbctl::The plan for local predicts that apply would fail",
    ]


def test_plan_prints_no_annotations_outside_github_actions(repo: Path) -> None:
    (repo / "manifests/alpha/tiny.md").write_text("# tiny\n")
    result = CliRunner(env={"GITHUB_ACTIONS": None}).invoke(cli, ["plan", "-e", "local"])
    assert result.exit_code == 0, result.output
    assert "small_document" not in result.stderr
    assert "::" not in result.stderr
