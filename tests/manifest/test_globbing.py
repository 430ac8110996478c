"""The contained glob: Python's glob semantics, but no walk outside the repository or in loops."""

from __future__ import annotations

import glob as globlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbctl.manifest.globbing import contained_glob, split_pattern
from tests.manifest.conftest import MINIMAL, Project

_NAMES = st.sampled_from(["a", "b", ".h", "c.md", "d.md", ".e.md", "ab"])
_COMPONENTS = st.sampled_from(
    ["*", "**", "?", "a", "b", "*.md", ".h", ".*", "[ab]", "c.md", "*a*", "**", "a*"]
)


def _make_tree(root: Path, paths: list[list[str]]) -> None:
    for parts in paths:
        path = root.joinpath(*parts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_text("x")
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue  # a name that is a file on one path and a folder on another


def _expected(root: Path, pattern: str, files_only: bool) -> list[str]:
    fixed, rest = split_pattern(pattern)
    # With a wildcard, `a/**` also yields `a/` itself: contained_glob never yields its start.
    itself = (os.path.normpath(os.path.join(*fixed)) if fixed else ".") if rest else None
    found = set()
    for rel in globlib.glob(pattern, root_dir=root, recursive=True):
        is_dir = os.path.isdir(os.path.join(root, rel))
        if (files_only and is_dir) or (rel.endswith("/") and not is_dir):
            continue  # glob's quirk: `a/x/**` yields `a/x/` even when x is a file
        normal = os.path.normpath(rel)
        if normal != itself:
            found.add(normal)
    return sorted(found)


@settings(max_examples=150, deadline=None)
@given(
    paths=st.lists(st.lists(_NAMES, min_size=1, max_size=4), max_size=12),
    pattern=st.lists(_COMPONENTS, min_size=1, max_size=3).map("/".join),
    files_only=st.booleans(),
)
def test_matches_python_glob_on_trees_without_symlinks(
    paths: list[list[str]], pattern: str, files_only: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder).resolve()
        _make_tree(root, paths)
        found, escapes = contained_glob(pattern, root, root, files_only=files_only)
        assert sorted({os.path.normpath(p) for p in found}) == _expected(root, pattern, files_only)
        assert escapes == []


def test_symlink_loops_end(project: Project) -> None:
    project.write("kb/a.md", "# a\n")
    for name in ("l1", "l2", "l3"):
        os.symlink(".", project.root / "kb" / name)
    found, escapes = contained_glob("kb/**/*.md", project.root, project.root)
    assert found == ["kb/a.md"]
    assert escapes == []


def test_a_folder_outside_is_not_entered_and_reported(project: Project, tmp_path: Path) -> None:
    outside = tmp_path.parent / "outside-folder"
    outside.mkdir(exist_ok=True)
    (outside / "leak.md").write_text("# leak\n" + "x" * 600)
    project.write("kb/a.md", "# a\n" + "a" * 600)
    os.symlink(outside, project.root / "kb/ext")
    name = project.manifest(MINIMAL + "documents:\n  - glob: kb/**/*.md\n")
    result = project.validate("-f", name)
    assert result.exit_code == 1
    assert (
        "m.yaml:7 at documents[0].glob: glob 'kb/**/*.md' does not enter kb/ext: it resolves "
        "outside the repository"
    ) in result.output
    assert "leak.md" not in result.output


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_a_symlink_to_proc_is_never_listed(project: Project) -> None:
    os.symlink("/proc/self", project.root / "proc")
    found, escapes = contained_glob("**/*", project.root, project.root)
    assert escapes == ["proc"]
    assert found == []
