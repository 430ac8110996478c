"""Fixtures of the planner tests: case files, golden files and their update switch.

Golden files are rewritten with `KBCTL_UPDATE_GOLDEN=1 pytest tests/plan` (works from any
directory) or with `pytest tests/plan --update-golden` (pytest only accepts options from a
conftest it loads at start-up, which this one is when `tests/plan` is on the command line).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CASES = HERE / "cases"
GOLDEN = HERE / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite the golden files of tests/plan instead of comparing with them.",
    )


def case_paths() -> list[Path]:
    return sorted(CASES.glob("*.yaml"))


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    option = bool(request.config.getoption("--update-golden", default=False))
    return option or os.environ.get("KBCTL_UPDATE_GOLDEN") == "1"


@pytest.fixture
def golden(update_golden: bool) -> Callable[[str, str], None]:
    """Compare text with `golden/<name>`, or rewrite the file when updating."""

    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if update_golden:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        assert path.exists(), f"{path} is missing: run KBCTL_UPDATE_GOLDEN=1 pytest tests/plan"
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"{path} differs; review, then KBCTL_UPDATE_GOLDEN=1"

    return check
