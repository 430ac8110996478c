"""`kbctl snapshots diff A B` end to end: two applies against the emulator, then the diff of
the second apply's before and after snapshots (documents, content from blobs, settings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbctl.jsonread import JsonObj
from tests.harness import kbctl, offline
from tests.jsonview import view

MANIFEST = """\
version: 1
project: homes
rag:
  enabled: true
  max_documents_length: {length}
documents:
  - glob: quarters/*.md
environments:
  local:
    base_url: emulator://.kbctl/emulator
    agent_id: agent_homes
"""

BODY = "\n".join(f"Line {i}: flats, parking, schools and parks nearby." for i in range(20))


run = kbctl


def write(repo: Path, name: str, text: str) -> None:
    (repo / "manifests" / "quarters" / f"{name}.md").write_text(text)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(tmp_path, monkeypatch)
    (tmp_path / "manifests" / "quarters").mkdir(parents=True)
    for name in ("a", "b", "c"):
        write(tmp_path, name, f"# {name}\n{BODY}\nThe rate is 2 450 CZK.\n")
    (tmp_path / "manifests" / "homes.yaml").write_text(MANIFEST.format(length=50000))
    first = run("apply", "-e", "local", "--auto-approve")
    assert first.exit_code == 0, first.output
    write(tmp_path, "a", f"# a\n{BODY}\nThe rate is 2 500 CZK.\n")
    (tmp_path / "manifests" / "quarters" / "c.md").unlink()
    write(tmp_path, "d", f"# d\n{BODY}\n")
    (tmp_path / "manifests" / "homes.yaml").write_text(MANIFEST.format(length=60000))
    second = run("apply", "-e", "local", "--auto-approve", "--allow-destroy")
    assert second.exit_code == 0, second.output
    return tmp_path


def last_apply() -> tuple[str, str]:
    """The ids of the second apply's before and after snapshots (the one that added d.md)."""
    listed = json.loads(run("snapshots", "list", "-e", "local", "--format", "json").stdout)
    shown = [
        json.loads(run("snapshots", "show", r["id"], "--format", "json").stdout) for r in listed
    ]
    runs: dict[str, dict[str, JsonObj]] = {}
    for snap in map(view, shown):
        runs.setdefault(snap.text("apply_id"), {})[snap.text("kind")] = snap
    (second,) = [
        r
        for r in runs.values()
        if any(e.opt_text("key") == "quarters/d.md" for e in r["after"].objs("knowledge_base"))
    ]
    return second["before"].text("id"), second["after"].text("id")


def test_the_diff_of_an_apply_names_documents_contents_and_settings(repo: Path) -> None:
    before, after = last_apply()
    result = run("snapshots", "diff", before, after)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "+ quarters/d.md  added" in out
    assert "- quarters/c.md  removed" in out
    assert "~ quarters/a.md  changed" in out
    assert "-The rate is 2 450 CZK." in out and "+The rate is 2 500 CZK." in out
    assert "rag.max_documents_length: 50000 → 60000" in out
    assert "quarters/b.md" not in out  # unchanged
    assert "1 added, 1 removed, 1 changed; 1 setting changed." in out

    data = json.loads(run("snapshots", "diff", before, after, "--format", "json").stdout)
    by_key = {d["key"]: d for d in data["documents"]}
    assert {k: d["change"] for k, d in by_key.items()} == {
        "quarters/a.md": "changed",
        "quarters/c.md": "removed",
        "quarters/d.md": "added",
    }
    assert "+The rate is 2 500 CZK.\n" in by_key["quarters/a.md"]["diff"]
    assert {f["field"] for f in by_key["quarters/a.md"]["fields"]} == {"content", "id"}
    assert data["settings"] == [{"field": "max_documents_length", "before": 50000, "after": 60000}]


def test_no_diff_and_identical_snapshots(repo: Path) -> None:
    before, after = last_apply()
    quiet = run("snapshots", "diff", before, after, "--no-diff")
    assert quiet.exit_code == 0, quiet.output
    assert "~ quarters/a.md  changed" in quiet.output and "2 500" not in quiet.output
    same = run("snapshots", "diff", after, after)
    assert same.exit_code == 0, same.output
    assert "No differences: same documents, same settings." in same.output


def test_an_unknown_snapshot_is_a_clear_error(repo: Path) -> None:
    result = run("snapshots", "diff", "nope", "nope2")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
