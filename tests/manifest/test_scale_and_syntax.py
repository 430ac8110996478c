"""Large globs, default paths and the `${VAR}` syntax as properties."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from kbctl.manifest import default_manifest_paths, load_manifests
from kbctl.manifest.interpolate import interpolate
from tests.manifest.conftest import MINIMAL, Project


def test_five_thousand_glob_documents(project: Project) -> None:
    for i in range(5000):
        project.write(f"kb/{i // 100:02d}/doc-{i:04d}.md", f"# Document {i}\r\n\r\nBody {i}.\r\n")
    name = project.manifest(MINIMAL + "documents:\n  - glob: kb/**/*.md\n")
    (manifest,) = load_manifests([Path(name)], {})
    docs = manifest.resolve("local", {}).documents
    assert len(docs) == 5000
    assert docs[0].key == "kb/00/doc-0000.md"
    assert docs[-1].key == "kb/49/doc-4999.md"
    assert docs[7].content == b"# Document 7\n\nBody 7.\n"
    assert len({d.content_hash for d in docs}) == 5000


def test_default_manifest_paths(tmp_path: Path) -> None:
    assert default_manifest_paths(tmp_path) == []
    folder = tmp_path / "manifests"
    for name in ("b.yaml", "a.yml", "c.json", "notes.md"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text("x")
    (folder / "dir.yaml").mkdir()
    assert default_manifest_paths(tmp_path) == [folder / "a.yml", folder / "b.yaml"]


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@given(st.text())
def test_escaping_every_dollar_brace_gives_the_text_back(text: str) -> None:
    result = interpolate(text.replace("${", "$${"), {})
    assert result.value == text
    assert result.references == ()
    assert result.missing == ()


@given(st.text(alphabet=st.characters(blacklist_characters="$")), _NAMES, st.text())
def test_references_are_replaced(prefix: str, name: str, value: str) -> None:
    result = interpolate(f"{prefix}${{{name}}}{prefix}", {name: value})
    assert result.value == f"{prefix}{value}{prefix}"
    assert result.references == (name,)
    assert result.missing == ()


def test_missing_and_malformed_references() -> None:
    result = interpolate("${A} ${B} ${A} ${1X} ${", {"B": "b"})
    assert result.value == "${A} b ${A} ${1X} ${"
    assert result.references == ("A", "B")
    assert result.missing == ("A",)
    assert result.malformed == ("${1X}", "${")
