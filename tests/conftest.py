"""Fixtures every test folder shares: `emulated` builds workspaces from `tests.harness`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from hypothesis import settings

from tests.harness import Emulated, emulate

# Tests never assert on wall time: hypothesis's per-example deadline would, and fails at random
# on a loaded two-core CI machine.
settings.register_profile("kbctl", deadline=None)
settings.load_profile("kbctl")

# httpx imports httpcore when its first real transport is made. Made here, once per test
# process, so that no test imports it while another thread imports it too: there, CPython
# 3.11's import locks can fail with a KeyError (`_ModuleLock.acquire`) when a garbage-collected
# object's finalizer imports meanwhile.
httpx.HTTPTransport().close()

EmulatedFactory = Callable[..., Emulated]


@pytest.fixture
def emulated() -> Iterator[EmulatedFactory]:
    """`emulated(config=…, agents={id: name})` → an `Emulated` workspace, closed afterwards."""
    made: list[Emulated] = []

    def make(**kwargs: object) -> Emulated:
        workspace = emulate(**kwargs)  # type: ignore[arg-type]
        made.append(workspace)
        return workspace

    yield make
    for workspace in made:
        workspace.close()


@pytest.fixture(autouse=True)
def _whole_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI text keeps its lines whole unless a test sets a width (`COLUMNS`): an exported
    `COLUMNS` in the shell running the tests must not wrap what they compare."""
    monkeypatch.delenv("COLUMNS", raising=False)
