"""Targeted runs end to end: `--target`, `--replace`, `--replace-all`, saved partial plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import kbctl, offline

MANIFEST = """\
version: 1
project: homes
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
    for name in ("a", "b", "c"):
        write(tmp_path, name, f"# {name}\n\n{BODY}")
    (tmp_path / "manifests" / "homes.yaml").write_text(MANIFEST)
    applied = run("apply", "-e", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    return tmp_path


def write(repo: Path, name: str, text: str) -> None:
    (repo / "manifests" / "quarters" / f"{name}.md").write_text(text)


def plan_json(*extra: str) -> dict[str, object]:
    result = run("plan", "-e", "local", "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def actions(data: dict[str, object]) -> dict[str, str]:
    changes = data["changes"]
    assert isinstance(changes, list)
    return {c["key"]: c["action"] for c in changes}


def live_ids() -> dict[str, str]:
    """key → the attached managed document's id, as `kbctl status` reads it."""
    result = run("status", "-e", "local", "--format", "json")
    (agent,) = json.loads(result.stdout)["agents"]
    return {d["key"]: d["id"] for d in agent["documents"] if d["managed"] and d["attached"]}


def unchanged(data: dict[str, object]) -> int:
    """How many documents the plan keeps as they are (`summary.noop`)."""
    summary = data["summary"]
    assert isinstance(summary, dict)
    count = summary["noop"]
    assert isinstance(count, int)
    return count


def test_target_plans_and_applies_only_the_matching_documents(repo: Path) -> None:
    before = live_ids()
    write(repo, "a", "# a\n\nnew text for a\n" + BODY)
    write(repo, "b", "# b\n\nnew text for b\n" + BODY)
    (repo / "manifests" / "quarters" / "c.md").unlink()

    text = run("plan", "-e", "local", "--target", "quarters/a.md")
    assert text.exit_code == 0, text.output
    assert "Partial plan: only documents matching --target quarters/a.md" in text.output
    assert "quarters/b.md" not in text.output and "quarters/c.md" not in text.output
    data = plan_json("--target", "quarters/a.md")
    assert data["partial"] is True
    assert data["scope"] == {"targets": ["quarters/a.md"], "replace": [], "replace_all": False}
    assert actions(data) == {"quarters/a.md": "replace"}
    markdown = run("plan", "-e", "local", "--format", "markdown", "--target", "quarters/a.md")
    assert "**Partial plan: only documents matching --target quarters/a.md" in markdown.output

    applied = run("apply", "-e", "local", "--auto-approve", "--target", "quarters/a.md")
    assert applied.exit_code == 0, applied.output
    after = live_ids()
    assert after["quarters/a.md"] != before["quarters/a.md"]
    assert after["quarters/b.md"] == before["quarters/b.md"]  # not targeted: as it was
    assert after["quarters/c.md"] == before["quarters/c.md"]  # not deleted either
    after_plan = plan_json()
    assert actions(after_plan) == {
        "quarters/a.md": "noop",
        "quarters/b.md": "replace",
        "quarters/c.md": "delete",
    }
    assert unchanged(after_plan) == 1


def test_a_glob_target_and_a_saved_partial_plan(repo: Path) -> None:
    write(repo, "a", "# a\n\nnew text for a\n" + BODY)
    write(repo, "b", "# b\n\nnew text for b\n" + BODY)
    saved = run("plan", "-e", "local", "--target", "quarters/[ab].md", "--out", "plan.json")
    assert saved.exit_code == 0, saved.output
    stored = json.loads((repo / "plan.json").read_text())
    assert stored["scope"]["targets"] == ["quarters/[ab].md"]
    assert actions(stored) == {"quarters/a.md": "replace", "quarters/b.md": "replace"}
    refused = run("apply", "-e", "local", "plan.json", "--target", "quarters/c.md")
    assert refused.exit_code == 1, refused.output
    assert "cannot change a saved plan" in refused.output
    applied = run("apply", "-e", "local", "plan.json")
    assert applied.exit_code == 0, applied.output
    assert set(actions(final := plan_json()).values()) == {"noop"} and unchanged(final) == 3


def test_replace_forces_a_new_upload_of_an_unchanged_document(repo: Path) -> None:
    before = live_ids()
    data = plan_json("--replace", "quarters/b.md")
    changes = data["changes"]
    assert isinstance(changes, list)
    forced = {c["key"]: c for c in changes}["quarters/b.md"]
    assert forced["action"] == "replace" and forced["reason"] == "forced"
    assert forced["needs_index"] is True
    assert actions(data)["quarters/a.md"] == "noop" and unchanged(data) == 2
    assert data["partial"] is False
    applied = run("apply", "-e", "local", "--auto-approve", "--replace", "quarters/b.md")
    assert applied.exit_code == 0, applied.output
    after = live_ids()
    assert after["quarters/b.md"] != before["quarters/b.md"]
    assert after["quarters/a.md"] == before["quarters/a.md"]
    assert set(actions(final := plan_json()).values()) == {"noop"} and unchanged(final) == 3


def test_replace_all_rebuilds_everything(repo: Path) -> None:
    before = live_ids()
    text = run("plan", "-e", "local", "--replace-all")
    assert "--replace-all: every planned document is uploaded and indexed again." in text.output
    assert "0 to create, 3 to replace" in text.output
    applied = run("apply", "-e", "local", "--auto-approve", "--replace-all")
    assert applied.exit_code == 0, applied.output
    after = live_ids()
    assert all(after[k] != before[k] for k in before)
    assert set(actions(final := plan_json()).values()) == {"noop"} and unchanged(final) == 3


def test_a_target_that_matches_nothing_is_refused(repo: Path) -> None:
    result = run("plan", "-e", "local", "--target", "quarters/zz.md")
    assert result.exit_code == 1
    assert "--target quarters/zz.md matches no document" in result.output
