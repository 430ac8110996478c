"""New files are attached in file batches: N uploads, ⌈N/2000⌉ batch creates (each file with
its own attributes and chunking), then the gate reads the batch (its files only when some
finished and others did not, or some failed) instead of the store's whole listing."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from kbctl.chunking import Chunking, ChunkingStrategy
from kbctl.clock import FakeClock
from kbctl.emulator import open_emulator
from kbctl.errors import ApplyError, ExitCode, IndexGateError
from kbctl.model import IndexStatus
from kbctl.provider.http import ApiClient, wsgi_transport
from kbctl.provider.openai.api import OpenAIApi
from kbctl.provider.openai.batches import MAX_BATCH_FILES, FileBatches
from tests.openai.conftest import KEY, Handbook, Recorder

_ROUTES = [
    ("upload", "POST", r"/v1/files"),
    ("attach", "POST", r"/v1/vector_stores/[^/]+/files"),
    ("batch", "POST", r"/v1/vector_stores/[^/]+/file_batches"),
    ("batch read", "GET", r"/v1/vector_stores/[^/]+/file_batches/[^/]+"),
    ("batch files", "GET", r"/v1/vector_stores/[^/]+/file_batches/[^/]+/files"),
    ("store files", "GET", r"/v1/vector_stores/[^/]+/files"),
    ("store file", "GET", r"/v1/vector_stores/[^/]+/files/[^/]+"),
]


def kinds(requests: list[tuple[str, str]]) -> Counter[str]:
    """How many requests of each kind kbctl sent."""
    out: Counter[str] = Counter()
    for method, path in requests:
        for kind, m, pattern in _ROUTES:
            if method == m and re.fullmatch(pattern, path):
                out[kind] += 1
    return out


def test_a_first_apply_uploads_each_file_and_attaches_them_in_one_batch(
    handbook: Handbook,
) -> None:
    run = handbook.apply()
    assert run.summary.startswith("5 created")
    sent = kinds(handbook.recorder.requests)
    assert sent["upload"] == 5 and sent["batch"] == 1 and sent["attach"] == 0
    # All five finish together: the gate reads the batch, never its files or the store's.
    (result,) = run.results
    assert sent["batch read"] == result.gate_requests >= 1
    assert sent["batch files"] == 0 and sent["store file"] == 0
    # Each file got its own attributes and chunking through the batch.
    attached = handbook.attached()
    assert attached["kb/hr/leave/annual-leave.md"]["attributes"]["title"] == "Annual leave"
    prices = attached["kb/sales/pricing/price-list.md"]
    assert prices["attributes"]["public"] is True
    assert prices["chunking_strategy"]["static"]["max_chunk_size_tokens"] == 400
    assert attached["kb/it/security/passwords.md"]["chunking_strategy"]["static"] == {
        "max_chunk_size_tokens": 800,
        "chunk_overlap_tokens": 400,
    }


def test_a_file_failing_in_a_batch_stops_the_gate_and_removes_what_the_run_added(
    handbook: Handbook,
) -> None:
    handbook.apply()
    before = {k: f["id"] for k, f in handbook.attached().items()}
    files = sorted(handbook.world.file_ids())
    handbook.world.replace_config(fail_index_containing=("BROKEN",))
    for key, extra in (
        ("kb/hr/leave/sick-leave.md", "Call in before 9.\n"),
        ("kb/it/security/passwords.md", "This paragraph is BROKEN.\n"),
        ("kb/sales/pricing/discounts.md", "Bundles get 5 percent more.\n"),
    ):
        doc = handbook.doc(key)
        doc.write_text(doc.read_text() + extra)
    handbook.recorder.requests.clear()

    with pytest.raises(IndexGateError) as caught:
        handbook.apply()
    assert caught.value.exit_code == ExitCode.INDEX_GATE
    detail = caught.value.detail or ""
    assert "kb/it/security/passwords.md" in detail and "sick-leave" not in detail
    sent = kinds(handbook.recorder.requests)
    assert sent["upload"] == 3 and sent["batch"] == 1 and sent["attach"] == 0
    assert sent["batch files"] >= 1  # the failed one, named from the batch's listing
    assert {k: f["id"] for k, f in handbook.attached().items()} == before
    assert sorted(handbook.world.file_ids()) == files


def test_files_beyond_2000_go_in_a_second_batch(tmp_path: Path) -> None:
    clock = FakeClock()
    app = open_emulator(f"emulator://{tmp_path}/emu?index_seconds=5", clock)
    world = app.openai.world
    seen: list[tuple[str, str]] = []

    def recorder(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.append((str(environ["REQUEST_METHOD"]), str(environ["PATH_INFO"])))
        return app(environ, start_response)

    client = ApiClient(
        "http://emulator.invalid/v1", KEY, clock, transport=wsgi_transport(recorder), bearer=True
    )
    api = OpenAIApi(client)
    store = api.create_store("big").id
    count = MAX_BATCH_FILES + 3
    ids = [
        str(world.upload(f"d{i}.md", "assistants", b"doc %d" % i, None)["id"]) for i in range(count)
    ]
    static = Chunking(ChunkingStrategy.STATIC, 200, 50)
    batches = FileBatches(api)
    states = batches.attach(store, [(i, {"n": n}, static) for n, i in enumerate(ids)])
    assert kinds(seen)["batch"] == 2
    assert {s.status for s in states.values()} == {IndexStatus.PROCESSING}

    clock.advance(10)
    seen.clear()
    done, rest = batches.states(store, ids)
    assert rest == [] and {s.status for s in done.values()} == {IndexStatus.SUCCEEDED}
    assert kinds(seen) == Counter({"batch read": 2})
    last = world.store_files(store)[-1]
    assert last["attributes"] == {"n": count - 1}
    assert last["chunking_strategy"] == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50},
    }
    client.close()


class BatchesDown(Recorder):
    """The API refusing every batch create (400), everything else answered as usual."""

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/file_batches"):
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            error = {"message": "Batches are down.", "type": "invalid_request_error"}
            return [json.dumps({"error": {**error, "param": None, "code": None}}).encode()]
        return super().__call__(environ, start_response)


def test_a_refused_batch_leaves_no_upload_behind(handbook: Handbook) -> None:
    handbook.apply()
    files = sorted(handbook.world.file_ids())
    before = {k: f["id"] for k, f in handbook.attached().items()}
    for key in ("kb/hr/leave/sick-leave.md", "kb/sales/pricing/discounts.md"):
        doc = handbook.doc(key)
        doc.write_text(doc.read_text() + "One more rule.\n")
    handbook.recorder = BatchesDown(handbook.app)
    with pytest.raises(ApplyError) as caught:
        handbook.apply()
    assert caught.value.exit_code == ExitCode.ERROR
    assert "Batches are down." in caught.value.summary
    assert "The store was not changed." in (caught.value.detail or "")
    assert "orphans" not in (caught.value.detail or "")
    assert sorted(handbook.world.file_ids()) == files  # both uploads deleted again
    assert {k: f["id"] for k, f in handbook.attached().items()} == before


def test_a_file_detached_from_its_batch_is_read_from_the_store(tmp_path: Path) -> None:
    clock = FakeClock()
    app = open_emulator(f"emulator://{tmp_path}/emu?index_seconds=5", clock)
    client = ApiClient(
        "http://emulator.invalid/v1", KEY, clock, transport=wsgi_transport(app), bearer=True
    )
    api = OpenAIApi(client)
    store = api.create_store("small").id
    ids = [api.upload(f"d{i}.md", b"doc %d" % i) for i in range(2)]
    batches = FileBatches(api)
    batches.attach(store, [(i, {}, None) for i in ids])
    api.detach(store, ids[0])  # by someone else, mid-gate
    states, rest = batches.states(store, ids)
    assert states == {} and sorted(rest) == sorted(ids)
    clock.advance(10)
    states, rest = batches.states(store, ids[1:])
    assert rest == [ids[1]]  # no longer read from that batch
    client.close()
