"""YAML edge cases: lines, aliases, odd files; each still ends as a located diagnostic."""

from __future__ import annotations

from kbctl.manifest.yamlpos import format_path, parse_yaml
from tests.manifest.conftest import MINIMAL, Project


def test_lines_point_at_keys_and_items() -> None:
    parsed = parse_yaml("a:\n  b:\n    - x\n    - y: 1\n", "f.yaml")
    assert parsed.data == {"a": {"b": ["x", {"y": 1}]}}
    assert parsed.lines.of(("a", "b")) == 2
    assert parsed.lines.of(("a", "b", 1)) == 4
    assert parsed.lines.of(("a", "b", 1, "y")) == 4
    assert parsed.lines.of(("a", "b", 1, "missing")) == 4  # nearest ancestor
    assert format_path(("documents", 2, "glob")) == "documents[2].glob"


def test_yaml_12_scalars() -> None:
    parsed = parse_yaml("a: yes\nb: no\nc: true\nd: 2024-01-02\ne: 1.5\nf: null\ng: 0x10\n", "f")
    assert parsed.data == {
        "a": "yes",
        "b": "no",
        "c": True,
        "d": "2024-01-02",
        "e": 1.5,
        "f": None,
        "g": 16,
    }


def test_recursive_alias_and_alias_bomb_are_errors() -> None:
    (diag,) = parse_yaml("a: &x [*x]\n", "f.yaml").diagnostics
    assert (diag.line, diag.message) == (1, "recursive YAML alias")
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        rows.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    (diag,) = parse_yaml("\n".join(rows), "f.yaml").diagnostics
    assert "YAML nodes once aliases are expanded" in diag.message


def test_deep_nesting_is_an_error() -> None:
    (diag,) = parse_yaml("[" * 5000 + "]" * 5000, "f.yaml").diagnostics
    assert diag.message == "YAML nested too deeply"


def test_several_yaml_documents_in_one_file(project: Project) -> None:
    name = project.manifest(MINIMAL + "---\nversion: 1\n")
    result = project.validate("-f", name)
    assert result.exit_code == 1
    assert "m.yaml:6: YAML syntax error: expected a single document" in result.output


def test_manifest_that_is_not_utf8_or_not_a_file(project: Project) -> None:
    project.write("latin1.yaml", "project: caf\xe9\n".encode("latin-1"))
    (project.root / "folder.yaml").mkdir()
    result = project.validate("-f", "latin1.yaml", "-f", "folder.yaml")
    assert result.exit_code == 1
    assert "latin1.yaml: not UTF-8" in result.output
    assert "folder.yaml: is a directory, not a manifest file" in result.output


def test_manifest_with_a_bom_and_crlf(project: Project) -> None:
    project.write("m.yaml", "\ufeff" + MINIMAL.replace("\n", "\r\n") + "extra: 1\r\n")
    result = project.validate("-f", "m.yaml")
    assert result.exit_code == 1
    assert "m.yaml:6 at extra: unknown key 'extra'" in result.output


def test_manifest_that_is_a_list(project: Project) -> None:
    name = project.manifest("- version: 1\n")
    result = project.validate("-f", name)
    assert result.exit_code == 1
    assert "m.yaml:1: expected a mapping, got a list" in result.output


def test_warnings_are_listed_once_when_there_are_errors(project: Project) -> None:
    name = project.manifest(MINIMAL + "  staging:\n    agent_id: ${KBCTL_TEST_UNSET}\nextra: 1\n")
    result = project.validate("-f", name, env={"KBCTL_TEST_UNSET": None})
    assert result.exit_code == 1
    assert result.output.count("KBCTL_TEST_UNSET is not set") == 1
    assert "warning: m.yaml:7 at environments.staging.agent_id" in result.output


def test_merge_key_with_a_non_mapping(project: Project) -> None:
    name = project.manifest(MINIMAL + "rag:\n  <<: [1, 2]\n")
    result = project.validate("-f", name)
    assert result.exit_code == 1
    assert "m.yaml:7" in result.output


def test_aliases_of_merged_mappings_are_not_duplicates() -> None:
    text = "a: &d {x: 1, y: 2}\nb: &p\n  <<: *d\n  x: 3\nc: *p\ne: [*p, *p]\nf: {k: 1, k: 2}\n"
    parsed = parse_yaml(text, "f.yaml")
    assert parsed.data == {
        "a": {"x": 1, "y": 2},
        "b": {"x": 3, "y": 2},
        "c": {"x": 3, "y": 2},
        "e": [{"x": 3, "y": 2}, {"x": 3, "y": 2}],
        "f": {"k": 2},
    }
    assert [(d.line, d.path) for d in parsed.diagnostics] == [(7, "f.k")]
