"""The planner stays pure: its modules import nothing that does I/O, reads a clock or draws."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kbctl.plan

PLAN_DIR = Path(kbctl.plan.__file__).parent
PURE = (
    "planner.py",
    "matching.py",
    "findings.py",
    "units.py",
    "types.py",
    "planfile.py",
    "planjson.py",
)
BANNED = {
    "httpx", "rich", "click", "os", "time", "datetime", "random", "logging", "pathlib",
    "subprocess", "socket", "io", "sys", "uuid", "kbctl.provider", "kbctl.render", "kbctl.cli",
    "kbctl.apply", "kbctl.emulator", "kbctl.clock",
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name", PURE)
def test_plan_modules_import_nothing_impure(name: str) -> None:
    imported = _imports(PLAN_DIR / name)
    bad = {m for m in imported for b in BANNED if m == b or m.startswith(b + ".")}
    assert not bad, f"kbctl/plan/{name} imports {sorted(bad)}"
