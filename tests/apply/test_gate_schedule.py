"""The index gate learns when to poll from the indexes it has seen finish in this run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from kbctl.apply.events import ApplyEvent
from kbctl.apply.gate import IndexGate
from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.identity import canonical_text, content_hash
from kbctl.model import DocType, DocumentSpec, UsageMode
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient, wsgi_transport

MODEL = "multilingual_e5_large_instruct"
BATCH = "POST /v1/convai/knowledge-base/rag-index"


def _upload(provider: ElevenLabsProvider, key: str) -> str:
    content = canonical_text(f"# {key}\n\n" + "Opening hours and prices. " * 40)
    spec = DocumentSpec(
        key, DocType.TEXT, UsageMode.AUTO, content, content_hash(DocType.TEXT, content)
    )
    return provider.create_document(spec, key)


def test_a_later_index_is_polled_when_the_earlier_ones_took_to_finish() -> None:
    clock = FakeClock()
    # A status without progress for the first half: the reported progress cannot say when.
    world = World(EmulatorConfig(index_seconds=3, index_pending_status="queued"), clock)
    client = ApiClient(
        "http://emulator", "key", clock, transport=wsgi_transport(EmulatorApp(world))
    )
    provider = ElevenLabsProvider(client)
    seen: list[ApplyEvent] = []
    gate = IndexGate(
        provider, clock, seen.append, model=MODEL, timeout=600, poll_initial=1.0, poll_max=10.0
    )
    first = _upload(provider, "first")
    gate.track("first", first, *gate.request(first))
    clock.sleep(2.0)
    second = _upload(provider, "second")
    gate.track("second", second, *gate.request(second))
    with ThreadPoolExecutor(2) as pool:
        gate.wait(pool)
    assert gate.indexed == ["first", "second"]
    # A round at 2 s and one at ~3.1 s (the first index's progress) see the first index done
    # after ~3.1 s; the second, asked at 2 s and still queued, is then polled when it is as old
    # as that (~5.2 s), not after its doubled delay (~7.1 s).
    assert clock.monotonic() < 6.0
    assert gate.rounds == 3 and world.calls[BATCH] == 3
    client.close()
