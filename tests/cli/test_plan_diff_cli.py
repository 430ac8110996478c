"""Content diffs in `kbctl plan` end to end: text, Markdown, JSON, `--no-diff`, saved plans."""

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
  - file: brochure.pdf
environments:
  local:
    base_url: emulator://.kbctl/emulator
    agent_id: agent_homes
"""

QUARTER = "\n".join(
    [
        "# Mortgage partners",
        "",
        *[f"Line {i}: flats from 45 to 120 m², parking and parks nearby." for i in range(30)],
        "The monthly rate starts at 2 450 CZK.",
        *[f"Tail {i}: schools and shops within a short walk." for i in range(30)],
        "",
    ]
)


run = kbctl


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(tmp_path, monkeypatch)
    (tmp_path / "manifests" / "quarters").mkdir(parents=True)
    (tmp_path / "manifests" / "quarters" / "mortgage-partners.md").write_text(QUARTER)
    (tmp_path / "manifests" / "brochure.pdf").write_bytes(b"%PDF-1.4 brochure " * 100)
    (tmp_path / "manifests" / "homes.yaml").write_text(MANIFEST)
    applied = run("apply", "-e", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    return tmp_path


def edit(repo: Path) -> None:
    path = repo / "manifests" / "quarters" / "mortgage-partners.md"
    path.write_text(path.read_text().replace("2 450", "2 500"))
    (repo / "manifests" / "brochure.pdf").write_bytes(b"%PDF-1.4 brochure v2 " * 100)


def test_a_one_line_edit_shows_the_removed_and_the_added_line_in_every_format(
    repo: Path,
) -> None:
    edit(repo)
    text = run("plan", "-e", "local")
    assert text.exit_code == 0, text.output
    assert "-The monthly rate starts at 2 450 CZK." in text.output
    assert "+The monthly rate starts at 2 500 CZK." in text.output
    assert "--- live/quarters/mortgage-partners.md" in text.output

    markdown = run("plan", "-e", "local", "--format", "markdown")
    assert "```diff\n" in markdown.output
    assert "-The monthly rate starts at 2 450 CZK." in markdown.output
    assert "+The monthly rate starts at 2 500 CZK." in markdown.output
    assert "<summary>diff <code>quarters/mortgage-partners.md</code></summary>" in markdown.output

    data = json.loads(run("plan", "-e", "local", "--format", "json").stdout)
    by_key = {c["key"]: c for c in data["changes"]}
    diff = by_key["quarters/mortgage-partners.md"]["diff"]
    assert "-The monthly rate starts at 2 450 CZK.\n" in diff
    assert "+The monthly rate starts at 2 500 CZK.\n" in diff
    assert "Line 0:" not in diff  # context around the change only
    # A file shows size and hash, never a diff.
    assert by_key["brochure.pdf"]["action"] == "replace"
    assert by_key["brochure.pdf"]["diff"] is None


def test_no_diff_shows_no_diff_anywhere(repo: Path) -> None:
    edit(repo)
    text = run("plan", "-e", "local", "--no-diff")
    assert text.exit_code == 0, text.output
    assert "2 450" not in text.output and "2 500" not in text.output
    assert "```diff" not in run("plan", "-e", "local", "--format", "markdown", "--no-diff").output
    data = json.loads(run("plan", "-e", "local", "--format", "json", "--no-diff").stdout)
    assert all(c["diff"] is None for c in data["changes"])


def test_a_saved_plan_with_diffs_applies(repo: Path) -> None:
    edit(repo)
    saved = run("plan", "-e", "local", "--out", "plan.json")
    assert saved.exit_code == 0, saved.output
    assert "2 500" in (repo / "plan.json").read_text()
    applied = run("apply", "-e", "local", "plan.json")
    assert applied.exit_code == 0, applied.output
    again = run("plan", "-e", "local", "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_a_long_diff_is_cut_per_document_with_a_count(repo: Path) -> None:
    path = repo / "manifests" / "quarters" / "mortgage-partners.md"
    path.write_text("\n".join(f"Rewritten line {i}" for i in range(100)) + "\n")
    text = run("plan", "-e", "local")
    assert text.exit_code == 0, text.output
    assert "more diff lines hidden" in text.output
    assert "Rewritten line 99" not in text.output
    data = json.loads(run("plan", "-e", "local", "--format", "json").stdout)
    by_key = {c["key"]: c for c in data["changes"]}
    assert "+Rewritten line 99\n" in by_key["quarters/mortgage-partners.md"]["diff"]


def test_a_diff_never_shows_the_api_key(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk_live_9d8c7b6a5f4e3d2c1b0a"
    monkeypatch.setenv("ELEVENLABS_API_KEY", secret)
    path = repo / "manifests" / "quarters" / "mortgage-partners.md"
    path.write_text(path.read_text().replace("2 450 CZK.", f"2 500 CZK. key {secret}"))
    for fmt in ("text", "markdown", "json"):
        result = run("plan", "-e", "local", "--format", fmt)
        assert result.exit_code == 0, result.output
        assert "+The monthly rate starts at 2 500 CZK. key " in result.output
        assert secret not in result.output
