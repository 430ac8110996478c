"""`kbctl plan` and `kbctl apply` at any terminal width: the counts said once, as Terraform's
`Plan: …` line, and every line broken between words (only a token longer than a line folded),
with nothing lost; without a width (logs, pipes) lines stay whole."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.harness import kbctl, offline

MANIFEST = """\
version: 1
project: homes
documents:
  - glob: quarters/**/*.md
environments:
  local:
    base_url: emulator://.kbctl/emulator
    agent_id: agent_homes
"""

BODY = "Flats from 45 to 120 m², parking, schools and parks nearby. " * 12
LONG = "quarters/prague-and-the-surrounding-districts/holešovice-riverside-partners.md"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(tmp_path, monkeypatch)
    for key in ("quarters/karlin.md", LONG):
        path = tmp_path / "manifests" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {key}\n{BODY}\nThe monthly rate starts at 2 450 CZK.\n")
    (tmp_path / "manifests" / "homes.yaml").write_text(MANIFEST)
    return tmp_path


def _changed(repo: Path) -> None:
    """After a first apply: one document edited (a replace with a diff), one new."""
    assert kbctl("apply", "-e", "local", "--auto-approve").exit_code == 0
    path = repo / "manifests" / LONG
    path.write_text(path.read_text().replace("2 450 CZK", "2 500 CZK in the new price list"))
    (repo / "manifests" / "quarters" / "smichov.md").write_text(f"# Smíchov\n{BODY}\n")


def _words(text: str) -> list[str]:
    return text.split()


def _plan_at(monkeypatch: pytest.MonkeyPatch, width: int | None) -> str:
    if width is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", str(width))
    result = kbctl("plan", "-e", "local", "--out", "a-plan-file-with-a-rather-long-name.json")
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_plan_lines_break_between_words_at_any_width(
    repo: Path, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    _changed(repo)
    whole = _plan_at(monkeypatch, None)
    assert max(cell_len(line) for line in whole.splitlines()) > 120  # something must wrap
    wrapped = _plan_at(monkeypatch, width)
    for line in wrapped.splitlines():
        assert cell_len(line) <= width, line
    words, pieces = _words(whole), _words(wrapped)
    assert "".join(words) == "".join(pieces)  # nothing lost or added, in the same order
    fits = [w for w in words if cell_len(w) <= width // 2]
    assert not Counter(fits) - Counter(pieces)  # no word that fits a line was cut
    assert "+The monthly rate starts at 2 500 CZK in the new price list" in " ".join(pieces)
    if cell_len(LONG) <= width:
        assert LONG in pieces  # a long path is kept whole where it fits
    assert wrapped.count("Plan: ") == 1
    assert whole.count("to create") == 1
    assert whole.splitlines()[-3:] == [
        "Plan: 1 to create, 1 to replace, 0 to update, 0 to delete, 1 unchanged.",
        "",
        "Saved the plan to a-plan-file-with-a-rather-long-name.json; apply it with: kbctl apply "
        "-e local a-plan-file-with-a-rather-long-name.json",
    ]


def test_apply_shows_the_counts_once_and_wraps_the_plan(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = kbctl("apply", "-e", "local", "--auto-approve")
    assert result.exit_code == 0, result.output
    plan, _, _ = result.output.partition("\n\n20")  # the plan, then apply's timestamped lines
    assert plan.count("Plan: ") == 1 and plan.count("to create") == 1
    assert all(cell_len(line) <= 60 for line in plan.splitlines())
    assert "Plan: 2 to create, 0 to replace, 0 to update, 0 to delete, 0" in plan
