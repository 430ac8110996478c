"""The package's shape, held by tests: the layers ARCHITECTURE.md draws, and small modules.

    cli → render → commands → {snapshots, status, importer} → apply → checks
        → {manifest, plan, provider} → core (model, identity, errors, clock, stop)

A module may import its own package and any lower layer, never a peer or a higher one. The
emulator stands apart: it imports only the core, so it never shares the code it checks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kbctl"
MAX_LINES = 400  # STYLE: modules stay under about 400 lines, split by noun when they grow

RANKS = {
    "kbctl": 0,
    "model": 0,
    "identity": 0,
    "fingerprint": 0,
    "errors": 0,
    "clock": 0,
    "stop": 0,
    "chunking": 0,
    "jsonread": 0,
    "secrets": 0,
    "sharing": 0,
    "wording": 0,
    "manifest": 1,
    "plan": 1,
    "provider": 1,
    "checks": 2,
    "observe": 2,
    "contentdiff": 2,
    "apply": 3,
    "snapshots": 4,
    "status": 4,
    "importer": 4,
    "commands": 5,
    "render": 6,
    "cli": 7,
    "__main__": 8,
}
#: Core modules may lean on each other (identity reads the model's types).
CORE = {name for name, rank in RANKS.items() if rank == 0}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "kbctl"


def _modules() -> Iterator[tuple[Path, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield path, name


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_every_unit_has_a_layer() -> None:
    units = {_unit(name) for _, name in _modules()}
    assert units - set(RANKS) <= {"emulator"}, units - set(RANKS)


def test_imports_follow_the_layers() -> None:
    wrong: list[str] = []
    for path, name in _modules():
        unit = _unit(name)
        for imported in _imports(path):
            if not imported.startswith("kbctl"):
                continue
            target = _unit(imported)
            if target == unit:
                continue
            if unit == "emulator" or target == "emulator":
                allowed = target in CORE or unit in {"cli", "commands"}
            elif unit in CORE and target in CORE:
                allowed = True
            else:
                allowed = RANKS[target] < RANKS[unit]
            if not allowed:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", [p for p, _ in _modules()], ids=lambda p: str(p.name))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines"
