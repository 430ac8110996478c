"""Globs that bend: `exclude:` patterns, and a `file:` entry overriding a glob for one file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from kbctl.cli.main import cli
from kbctl.manifest import load_manifests
from kbctl.model import UsageMode
from tests.manifest.conftest import MINIMAL, Project

BODY = "Flats from 45 to 120 m², parking, schools and parks nearby. " * 10 + "\n"


def kb(project: Project, *rels: str) -> None:
    for rel in rels:
        project.write(rel, f"# {rel}\n\n{BODY}")


def keys(project: Project, text: str, environment: str = "local") -> list[str]:
    name = project.manifest(text)
    (manifest,) = load_manifests([Path(name)], {})
    return [d.key for d in manifest.resolve(environment, {}).documents]


def test_exclude_leaves_out_files_and_whole_directories(project: Project) -> None:
    kb(project, "kb/a.md", "kb/b-old.md", "kb/drafts/c.md", "kb/drafts/deep/d.md", "kb/e.md")
    text = MINIMAL + ("documents:\n  - glob: kb/**/*.md\n    exclude: ['kb/*-old.md', kb/drafts]\n")
    assert keys(project, text) == ["kb/a.md", "kb/e.md"]


def test_exclude_with_recursive_patterns(project: Project) -> None:
    kb(project, "kb/x/a.md", "kb/x/tmp/b.md", "kb/y/tmp/c.md", "kb/y/d.md")
    text = MINIMAL + "documents:\n  - glob: 'kb/**/*.md'\n    exclude: ['**/tmp/**']\n"
    assert keys(project, text) == ["kb/x/a.md", "kb/y/d.md"]


def test_exclude_problems_are_reported_with_their_line(project: Project) -> None:
    kb(project, "kb/a.md")
    name = project.manifest(
        MINIMAL
        + "documents:\n"
        + "  - glob: kb/*.md\n    exclude: [kb/a.md]\n"  # 7-8: nothing left
        + "  - glob: kb/*.md\n    exclude: ['../../*']\n"  # 9-10: outside
        + "  - file: kb/a.md\n    exclude: [kb/b.md]\n"  # 11-12: not a glob
        + "  - glob: kb/*.md\n    exclude: kb/a.md\n"  # 13-14: not a list
    )
    result = project.validate("-f", name)
    assert result.exit_code == 1
    out = result.output
    assert "m.yaml:7 at documents[0].glob: glob 'kb/*.md' matches no files once 'exclude'" in out
    assert "m.yaml:10 at documents[1].exclude[0]: glob '../../*' reaches outside" in out
    assert "m.yaml:12 at documents[2].exclude: 'exclude' is only allowed with 'glob'" in out
    assert "m.yaml:14 at documents[3].exclude: expected a list" in out


def test_a_file_entry_overrides_the_glob_for_that_file(project: Project) -> None:
    kb(project, "kb/a.md", "kb/b.md", "kb/c.md")
    name = project.manifest(
        MINIMAL + "documents:\n  - glob: kb/*.md\n  - file: kb/b.md\n    usage_mode: prompt\n"
    )
    (manifest,) = load_manifests([Path(name)], {})
    docs = manifest.resolve("local", {}).documents
    assert [(d.key, d.usage_mode) for d in docs] == [
        ("kb/a.md", UsageMode.AUTO),
        ("kb/c.md", UsageMode.AUTO),
        ("kb/b.md", UsageMode.PROMPT),
    ]


def test_an_environment_file_entry_overrides_a_top_level_glob_there_only(
    project: Project,
) -> None:
    kb(project, "kb/a.md", "kb/b.md")
    text = MINIMAL + (
        "  staging:\n    agent_id: s\n    documents:\n      - {file: ./kb/a.md, key: a}\n"
        "documents:\n  - glob: kb/*.md\n"
    )
    assert keys(project, text, "staging") == ["kb/b.md", "a"]
    assert keys(project, text, "local") == ["kb/a.md", "kb/b.md"]


def test_two_file_entries_for_one_path_are_still_duplicates(project: Project) -> None:
    kb(project, "kb/a.md")
    name = project.manifest(
        MINIMAL + "documents:\n  - glob: kb/*.md\n  - file: kb/a.md\n  - file: kb/a.md\n"
    )
    result = project.validate("-f", name)
    assert result.exit_code == 1
    assert "m.yaml:9 at documents[2]: duplicate document key 'kb/a.md'" in result.output


def test_plan_applies_the_override_end_to_end(project: Project) -> None:
    kb(project, "kb/a.md", "kb/b.md", "kb/draft.md")
    name = project.manifest(
        MINIMAL.replace("agent_local", "agent_local\n    base_url: emulator://.kbctl/emu")
        + "documents:\n  - glob: kb/*.md\n    exclude: [kb/draft.md]\n"
        + "  - file: kb/b.md\n    usage_mode: prompt\n"
    )
    result = CliRunner().invoke(cli, ["plan", "-e", "local", "-f", name, "--format", "json"])
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)["changes"]
    assert sorted((c["key"], c["usage_mode"]) for c in changes if c["action"] == "create") == [
        ("kb/a.md", "auto"),
        ("kb/b.md", "prompt"),
    ]
