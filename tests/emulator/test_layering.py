"""The emulator's boundaries: it never imports the provider it checks, nor httpx; the workspace
never reaches into the HTTP face nor picks a clock; modules stay small and say what they own."""

from __future__ import annotations

import ast
from pathlib import Path

import kbctl.emulator

PACKAGE = Path(kbctl.emulator.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
WORKSPACE = sorted((PACKAGE / "workspace").rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_provider_no_httpx() -> None:
    for path in MODULES:
        for name in imported(path):
            assert not name.startswith("kbctl.provider"), (path.name, name)
            assert not name.startswith(("kbctl.cli", "kbctl.plan", "kbctl.apply")), (
                path.name,
                name,
            )
            assert name.split(".")[0] not in ("httpx", "click", "rich"), (path.name, name)


def test_modules_are_small_and_documented() -> None:
    for path in MODULES:
        tree = ast.parse(path.read_text())
        doc = ast.get_docstring(tree)
        assert doc, path.name
        words = " ".join(doc.lower().split())
        assert "must not" in words or "never" in words, path.name
        assert len(path.read_text().splitlines()) <= 400, path.name


def test_workspace_knows_no_http_and_no_system_clock() -> None:
    assert WORKSPACE
    for path in WORKSPACE:
        for name in imported(path):
            assert not name.startswith("kbctl.emulator.http"), (path.name, name)
            assert name.split(".")[0] not in ("wsgiref", "socketserver", "http"), (path.name, name)
        assert "SystemClock" not in path.read_text(), path.name


def test_public_surface() -> None:
    assert set(kbctl.emulator.__all__) >= {
        "EmulatorApp",
        "EmulatorConfig",
        "World",
        "EmulatorServer",
        "open_emulator",
        "parse_emulator_url",
    }
