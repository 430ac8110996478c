"""The OpenAI emulator's boundaries: self-contained (never the provider it checks, nor httpx,
nor the CLI), small modules that say what they own."""

from __future__ import annotations

import ast
from pathlib import Path

import kbctl.emulator.openai

PACKAGE = Path(kbctl.emulator.openai.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_self_contained() -> None:
    assert len(MODULES) >= 10
    for path in MODULES:
        for name in imported(path):
            assert not name.startswith(("kbctl.provider", "kbctl.cli", "kbctl.plan")), path.name
            assert not name.startswith(("kbctl.apply", "kbctl.checks")), (path.name, name)
            assert name.split(".")[0] not in ("httpx", "httpx2", "openai", "click", "rich"), (
                path.name,
                name,
            )


def test_modules_are_small_and_documented() -> None:
    for path in MODULES:
        tree = ast.parse(path.read_text())
        doc = ast.get_docstring(tree)
        assert doc, path.name
        words = " ".join(doc.lower().split())
        assert "must not" in words or "never" in words, path.name
        assert len(path.read_text().splitlines()) <= 400, path.name


def test_public_surface() -> None:
    assert set(kbctl.emulator.openai.__all__) == {
        "OpenAIApp",
        "OpenAIWorld",
        "is_openai_path",
        "open_openai",
    }
