"""The action's Python helpers on their own: which changed files count as kbctl's inputs, which
configuration variables reach kbctl, and the human lines for apply's JSON events."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.workflows.conftest import ROOT


@pytest.fixture
def helpers() -> Iterator[tuple[ModuleType, ModuleType, ModuleType]]:
    sys.path.insert(0, str(ROOT / "scripts" / "ci"))
    try:
        import ci_changes
        import ci_env
        import ci_results

        yield ci_changes, ci_env, ci_results
    finally:
        sys.path.pop(0)


MANIFEST = """\
version: 1
project: demo
documents:
  - glob: quarters/**/*.md
  - file: ../shared/prices.pdf
environments:
  staging:
    agent_id: a
    documents:
      - file: extra/staging-only.md
"""


def test_changes_count_the_manifests_and_every_document_they_read(
    tmp_path: Path, helpers: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    ci_changes = helpers[0]
    manifest = tmp_path / "example.yaml"
    manifest.write_text(MANIFEST)
    changed = [
        "README.md",
        ".github/workflows/ci.yml",
        "kb/manifests/quarters/a/b.md",
        "kb/shared/prices.pdf",
        "kb/shared/prices.pdf.metadata.yaml",
        "kb/manifests/extra/staging-only.md",
        "kb/manifests/new.yaml",
        "kb/other/notes.md",
        "docs/extra.txt",
    ]
    relevant, reason = ci_changes.relevant_changes(
        changed, [(manifest, "kb/manifests/example.yaml")], ["kb/manifests"], ["docs/*.txt"]
    )
    assert reason is None
    assert relevant == [
        "kb/manifests/quarters/a/b.md",
        "kb/shared/prices.pdf",
        "kb/shared/prices.pdf.metadata.yaml",
        "kb/manifests/extra/staging-only.md",
        "kb/manifests/new.yaml",
        "docs/extra.txt",
    ]


def test_an_unreadable_manifest_makes_every_change_count(
    tmp_path: Path, helpers: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    ci_changes = helpers[0]
    manifest = tmp_path / "broken.yaml"
    manifest.write_text("documents: [unclosed\n")
    relevant, reason = ci_changes.relevant_changes(
        ["README.md"], [(manifest, "manifests/broken.yaml")], ["manifests"]
    )
    assert relevant == ["README.md"] and reason and "manifests/broken.yaml" in reason


def test_configuration_variables_reach_kbctl_but_never_override_or_steer(
    helpers: tuple[ModuleType, ModuleType, ModuleType],
) -> None:
    ci_env = helpers[1]
    text = (
        '{"ELEVENLABS_AGENT_ID": "agent_1", "PATH": "/evil", "LD_PRELOAD": "x",'
        ' "GITHUB_TOKEN": "x", "KBCTL_ARGS": "x", "ALREADY": "new", "bad-name": "x"}'
    )
    pairs = ci_env.export_vars(text, {"ALREADY": "old"}).split(b"\0")
    assert pairs == [b"ELEVENLABS_AGENT_ID", b"agent_1", b""]
    assert ci_env.slug("kb/Support Team") == "kb-support-team" and ci_env.slug("//") == "kbctl"


def test_apply_events_become_human_lines(
    helpers: tuple[ModuleType, ModuleType, ModuleType],
) -> None:
    ci_results = helpers[2]
    events = "\n".join(
        [
            '{"event": "plan_started", "agent_id": "a", "create": 2, "delete": 1}',
            '{"event": "document_created", "agent_id": "a", "key": "q1.md", "reused": false}',
            '{"event": "index_progress", "agent_id": "a", "key": "q1.md", "status": "indexing"}',
            '{"event": "gate_passed", "agent_id": "a", "indexed": 1}',
            '{"event": "finished", "agent_id": "a", "summary": "2 created", "seconds": 1.5}',
            "not json",
        ]
    )
    out = io.StringIO()
    ci_results.progress(io.StringIO(events), out)
    assert out.getvalue().splitlines() == [
        "[a] planned: 2 to create, 1 to delete",
        "[a]   uploaded q1.md",
        "[a] index gate passed (1 indexed)",
        "[a] done in 1.5 s: 2 created",
    ]
