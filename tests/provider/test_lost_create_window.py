"""Finding the copies lost creates left, with the server's clock a day ahead of kbctl's.

The window of the walk is derived from `created_at` of a document the run created and the local
time between the first lost create and that document's answer; the two clocks are never
compared. Through the real provider and client against the emulator, whose world runs on a
clock of its own.
"""

from __future__ import annotations

import httpx

from kbctl.apply.extras import find_extra_copies, walk_pages
from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.identity import content_hash, document_name
from kbctl.model import DocType, DocumentSpec, UsageMode
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient

LIST = "GET /v1/convai/knowledge-base"
DAY = 86_400.0


def spec(i: int) -> DocumentSpec:
    data = f"body {i} ".encode() * 80
    return DocumentSpec(
        f"d{i}.md", DocType.TEXT, UsageMode.AUTO, data, content_hash(DocType.TEXT, data)
    )


def name(i: int) -> str:
    return document_name(f"d{i}.md", "birby", "staging", spec(i).content_hash)


def test_the_walk_stops_past_the_window_whatever_the_clocks_say() -> None:
    server, local = FakeClock(1_767_225_600.0 + DAY), FakeClock(1_767_225_600.0)
    world = World(EmulatorConfig(fail_after_write_rate=0.5, seed=4), server)
    world.create_agent("agent_test")
    client = ApiClient(
        "http://emulator", "key", local, transport=httpx.WSGITransport(app=EmulatorApp(world))
    )
    provider = ElevenLabsProvider(client)
    # An older workspace: 320 documents, among them one of each name about to be created
    # (leftovers of an earlier run: same names, outside this run's window).
    older = {world.add_document("text", name(i), "old " * 200) for i in range(30)}
    older |= {world.add_document("text", f"filler {i}", "f " * 300) for i in range(290)}
    server.advance(600.0)
    local.advance(5.0)
    kept = {i: provider.create_document(spec(i), name(i)) for i in range(30)}
    view = provider.create_ledger.take()
    assert len(view.names) > walk_pages(view), "enough lost names for the walk to be cheaper"
    world.config = EmulatorConfig()  # no more faults
    lists = client.route_calls[LIST]
    extra = find_extra_copies(provider, view, protected=())
    assert client.route_calls[LIST] - lists == 1  # this run's documents fit on the first page
    new = {d.id for d in world.documents() if d.id not in older}
    assert {d.id for d in extra} == new - set(kept.values())  # every copy, no leftover
    assert not older & {d.id for d in extra}
    client.close()
