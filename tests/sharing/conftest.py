"""Fixtures: `bench`, one emulated workspace holding a staging and a production agent, a
project folder, the real provider and the CLI wired to it (see tests/snapshots/kit.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.snapshots.kit import Bench, make_bench


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    yield from make_bench(tmp_path, monkeypatch)
