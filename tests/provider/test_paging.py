"""A listing read to the end asks for its next page while the caller reads the current one."""

from __future__ import annotations

import time
from collections.abc import Callable

from kbctl.provider.elevenlabs.paging import pages
from tests.harness import emulate

LIST = "GET /v1/convai/knowledge-base"


def _wait_for(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


def test_the_next_page_is_requested_before_the_current_one_is_read() -> None:
    emulated = emulate()
    try:
        for i in range(5):
            emulated.world.add_document("text", f"doc {i}", "text " * 200)
        client = emulated.new_client()
        params = {"page_size": 2}
        listing = pages(
            client, "/v1/convai/knowledge-base", params, LIST, page_size=2, prefetch=True
        )
        first = next(listing)
        assert len(first.opt_objs("documents")) == 2
        # Still holding page 1: page 2 is on its way already.
        assert _wait_for(lambda: emulated.world.calls[LIST] == 2)
        rest = list(listing)
        assert [len(p.opt_objs("documents")) for p in rest] == [2, 1]
        assert emulated.world.calls[LIST] == 3  # nothing asked twice, nothing after the last

        plain = pages(client, "/v1/convai/knowledge-base", params, LIST, page_size=2)
        next(plain)
        time.sleep(0.2)
        assert emulated.world.calls[LIST] == 4  # without prefetch, one page at a time
    finally:
        emulated.close()
