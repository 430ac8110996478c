"""Fixtures every test folder shares: `emulated` builds workspaces from `tests.harness`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.harness import Emulated, emulate

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
