"""Quieter plans end to end: the endpoint in the header, a small document the policy handles
reported once as info, and no `model_change` warning for an agent with nothing indexed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import kbctl, offline

MANIFEST = """\
version: 1
project: homes
rag:
  enabled: true
  embedding_model: {model}
documents:
  - glob: quarters/*.md
environments:
  local:
    base_url: emulator://.kbctl/emulator
    agent_id: agent_homes
"""

BODY = "Flats from 45 to 120 m², parking, schools and parks nearby. " * 12


run = kbctl


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(tmp_path, monkeypatch)
    (tmp_path / "manifests" / "quarters").mkdir(parents=True)
    (tmp_path / "manifests" / "quarters" / "big.md").write_text(BODY)
    set_model(tmp_path, "multilingual_e5_large_instruct")
    return tmp_path


def set_model(repo: Path, model: str) -> None:
    (repo / "manifests" / "homes.yaml").write_text(MANIFEST.format(model=model))


def findings(data: dict[str, object]) -> list[dict[str, object]]:
    agents = data["agents"]
    assert isinstance(agents, list)
    found: list[dict[str, object]] = agents[0]["findings"]
    return found


def test_the_header_names_the_endpoint_it_read(repo: Path) -> None:
    text = run("plan", "-e", "local")
    assert text.exit_code == 0, text.output
    assert text.output.startswith(
        f"kbctl plan for environment local (read from emulator://{repo}/emu)"
    )
    assert "index_seconds" not in text.output.splitlines()[0]
    markdown = run("plan", "-e", "local", "--format", "markdown")
    assert f"### kbctl plan for `local` (read from `emulator://{repo}/emu`)" in markdown.output
    data = json.loads(run("plan", "-e", "local", "--format", "json").stdout)
    assert data["agents"][0]["endpoint"] == f"emulator://{repo}/emu"


def test_no_model_change_warning_for_an_agent_with_nothing_indexed(repo: Path) -> None:
    data = json.loads(run("plan", "-e", "local", "--format", "json").stdout)
    assert "model_change" not in [f["code"] for f in findings(data)]
    rag = data["agents"][0]["rag_changes"]
    assert {"field": "embedding_model", "before": "e5_mistral_7b_instruct",
            "after": "multilingual_e5_large_instruct"} in rag  # fmt: skip
    assert run("apply", "-e", "local", "--auto-approve").exit_code == 0
    # Now something is indexed for the model: changing it again is worth a warning.
    set_model(repo, "e5_mistral_7b_instruct")
    data = json.loads(run("plan", "-e", "local", "--format", "json").stdout)
    codes = {f["code"]: f["severity"] for f in findings(data)}
    assert codes.get("model_change") == "warning"


def test_a_small_document_the_policy_handles_is_info_and_no_annotation(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "manifests" / "quarters" / "tiny.md").write_text("Open Monday to Friday.\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run("plan", "-e", "local", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    small = [f for f in findings(data) if f["code"] == "small_document"]
    assert [f["severity"] for f in small] == ["info"]
    assert "::warning" not in result.stderr
    text = run("plan", "-e", "local")
    assert text.output.count("tiny.md: 23 bytes") == 1  # once, in the findings
