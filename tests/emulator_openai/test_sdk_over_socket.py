"""The official `openai` SDK, unchanged, against `kbctl emulator serve` on 127.0.0.1 under `/v1`.

The client runs with `_strict_response_validation=True`, so every answer must validate against
the SDK's own models (the default only constructs them leniently and would let a wrong shape by).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types import StaticFileChunkingStrategyObjectParam

from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorConfig, EmulatorServer, build_app
from tests.emulator_openai.conftest import HANDBOOK

KEY = "sk-sdk-key"
STORE = "vs_handbook"
STATIC: StaticFileChunkingStrategyObjectParam = {
    "type": "static",
    "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20},
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        index_seconds=0.3, api_key=KEY, vector_store=(STORE,), fail_index_containing=("BROKEN",)
    )
    with EmulatorServer(build_app(config, SystemClock(), tmp_path / "state"), port=0) as srv:
        yield srv
    assert srv.app.openai.internal_errors == []


@pytest.fixture
def sdk(server: EmulatorServer) -> Iterator[OpenAI]:
    client = OpenAI(
        api_key=KEY, base_url=server.url + "/v1", max_retries=0, _strict_response_validation=True
    )
    yield client
    client.close()


def test_files_round_trip(sdk: OpenAI, tmp_path: Path) -> None:
    doc = tmp_path / "refunds policy.md"
    doc.write_text(HANDBOOK)
    created = sdk.files.create(file=doc, purpose="assistants")
    assert created.filename == "refunds policy.md" and created.bytes == len(HANDBOOK)
    assert created.status == "processed" and created.purpose == "assistants"
    raw = sdk.files.create(file=b"raw bytes", purpose="user_data")
    assert raw.filename == "upload"
    assert sdk.files.retrieve(created.id).id == created.id
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.files.content(created.id)  # the live API keeps file-search Files to itself
    assert "Not allowed to download files of purpose: assistants" in refused.value.message
    batch = sdk.files.create(file=("jobs.jsonl", b'{"x": 1}\n'), purpose="batch")
    assert sdk.files.content(batch.id).read() == b'{"x": 1}\n'
    sdk.files.delete(batch.id)
    assert [f.id for f in sdk.files.list(purpose="assistants")] == [created.id]
    assert [f.id for f in sdk.files.list(order="asc")] == [created.id, raw.id]
    deleted = sdk.files.delete(raw.id)
    assert deleted.deleted and deleted.id == raw.id
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.files.retrieve(raw.id)
    assert caught.value.status_code == 404 and caught.value.param == "id"


def test_vector_store_lifecycle(sdk: OpenAI) -> None:
    pre = sdk.vector_stores.retrieve(STORE)
    assert pre.status == "completed" and pre.file_counts.total == 0
    a = sdk.files.create(file=("a.md", HANDBOOK.encode()), purpose="assistants")
    store = sdk.vector_stores.create(
        name="kb", metadata={"owner": "kbctl"}, file_ids=[a.id], chunking_strategy=STATIC
    )
    assert store.name == "kb" and store.metadata == {"owner": "kbctl"}
    assert store.status == "in_progress" and store.file_counts.in_progress == 1
    attached = sdk.vector_stores.files.poll(a.id, vector_store_id=store.id, poll_interval_ms=50)
    assert attached.status == "completed"
    assert attached.chunking_strategy is not None and attached.chunking_strategy.type == "static"
    assert attached.chunking_strategy.static.max_chunk_size_tokens == 100
    done = sdk.vector_stores.retrieve(store.id)
    assert done.status == "completed" and done.file_counts.completed == 1
    assert done.usage_bytes == len(HANDBOOK)
    updated = sdk.vector_stores.update(store.id, name="kb2", metadata={"owner": "me"})
    assert updated.name == "kb2" and updated.metadata == {"owner": "me"}
    ids = [vs.id for vs in sdk.vector_stores.list(limit=1)]
    assert ids == [store.id, STORE]  # newest first, across pages of one
    assert sdk.vector_stores.delete(store.id).deleted
    assert [vs.id for vs in sdk.vector_stores.list()] == [STORE]
    assert sdk.files.retrieve(a.id).id == a.id  # the File outlives the store


def test_store_files_with_attributes_filters_and_pages(sdk: OpenAI) -> None:
    vsf = sdk.vector_stores.files
    ids = []
    for i, dept in enumerate(["sales", "hr", "sales", "legal"]):
        f = sdk.files.create(
            file=(f"d{i}.md", f"{HANDBOOK} doc {i}".encode()), purpose="assistants"
        )
        got = vsf.create_and_poll(
            file_id=f.id,
            vector_store_id=STORE,
            attributes={"dept": dept, "version": i, "draft": i == 3},
            chunking_strategy={"type": "auto"},
            poll_interval_ms=50,
        )
        assert got.status == "completed" and got.attributes == {
            "dept": dept,
            "version": i,
            "draft": i == 3,
        }
        assert got.chunking_strategy is not None and got.chunking_strategy.type == "static"
        ids.append(f.id)
    broken = vsf.upload_and_poll(
        vector_store_id=STORE, file=("bad.md", b"this is BROKEN"), poll_interval_ms=50
    )
    assert broken.status == "failed" and broken.last_error is not None
    assert broken.last_error.code == "server_error" and broken.usage_bytes == 0

    assert [f.id for f in vsf.list(STORE, limit=2, order="asc", filter="completed")] == ids
    first = vsf.list(STORE, limit=2)
    assert first.has_more and len(first.data) == 2
    assert [f.id for f in vsf.list(STORE, filter="failed")] == [broken.id]
    store = sdk.vector_stores.retrieve(STORE)
    assert (store.file_counts.completed, store.file_counts.failed) == (4, 1)

    changed = vsf.update(ids[1], vector_store_id=STORE, attributes={"dept": "finance"})
    assert changed.attributes == {"dept": "finance"}
    assert vsf.retrieve(ids[1], vector_store_id=STORE).attributes == {"dept": "finance"}
    content = list(vsf.content(ids[0], vector_store_id=STORE))
    assert content[0].type == "text" and content[0].text == f"{HANDBOOK} doc 0"
    detached = vsf.delete(ids[3], vector_store_id=STORE)
    assert detached.deleted and detached.object == "vector_store.file.deleted"
    assert sdk.files.retrieve(ids[3]).id == ids[3]
    with pytest.raises(openai.NotFoundError):
        vsf.retrieve(ids[3], vector_store_id=STORE)

    sales = sdk.vector_stores.search(
        STORE, query="refunds receipt", filters={"type": "eq", "key": "dept", "value": "sales"}
    )
    assert sorted({hit.file_id for hit in sales}) == sorted([ids[0], ids[2]])
    assert all(0 < hit.score <= 1 and hit.filename.startswith("d") for hit in sales)
    compound = sdk.vector_stores.search(
        STORE,
        query=["refunds", "store credit"],
        filters={
            "type": "or",
            "filters": [
                {"type": "gte", "key": "version", "value": 2},
                {"type": "in", "key": "dept", "value": ["finance"]},
            ],
        },
        max_num_results=2,
        ranking_options={"ranker": "auto", "score_threshold": 0.01},
        rewrite_query=True,
    )
    assert len(compound.data) == 2
    assert {hit.file_id for hit in compound} <= {ids[1], ids[2]}
    nothing = sdk.vector_stores.search(
        STORE, query="refunds", ranking_options={"score_threshold": 1.0}
    )
    assert nothing.data == []


def test_file_batches(sdk: OpenAI) -> None:
    batches = sdk.vector_stores.file_batches
    a = sdk.files.create(file=("a.md", HANDBOOK.encode()), purpose="assistants")
    b = sdk.files.create(file=("b.txt", b"second document text"), purpose="assistants")
    batch = batches.create_and_poll(
        STORE,
        files=[
            {"file_id": a.id, "attributes": {"dept": "hr"}},
            {"file_id": b.id, "chunking_strategy": STATIC},
        ],
    )  # polls at the server's `openai-poll-after-ms` hint
    assert batch.status == "completed" and batch.file_counts.completed == 2
    assert batch.object == "vector_store.files_batch"
    listed = {f.id: f for f in batches.list_files(batch.id, vector_store_id=STORE)}
    assert set(listed) == {a.id, b.id}
    assert listed[a.id].attributes == {"dept": "hr"}
    assert batches.retrieve(batch.id, vector_store_id=STORE).file_counts.total == 2

    uploaded = batches.upload_and_poll(
        STORE, files=[("c.md", b"third"), ("d.md", b"fourth BROKEN")], poll_interval_ms=50
    )
    assert (uploaded.file_counts.completed, uploaded.file_counts.failed) == (1, 1)
    failed = list(batches.list_files(uploaded.id, vector_store_id=STORE, filter="failed"))
    assert len(failed) == 1 and failed[0].last_error is not None

    e = sdk.files.create(file=("e.md", b"fifth"), purpose="assistants")
    f = sdk.files.create(file=("f.md", b"sixth"), purpose="assistants")
    slow = batches.create(
        STORE,
        files=[
            {"file_id": e.id, "attributes": {"dept": "ops"}, "chunking_strategy": STATIC},
            {"file_id": f.id, "attributes": {"dept": "it", "n": 2}},
        ],
    )
    assert slow.status == "in_progress" and slow.file_counts.in_progress == 2
    # What kbctl's gate reads: the batch's unfinished files, page by page.
    pending = batches.list_files(slow.id, vector_store_id=STORE, filter="in_progress", limit=1)
    assert sorted(x.id for x in pending) == sorted([e.id, f.id])
    cancelled = batches.cancel(slow.id, vector_store_id=STORE)
    assert cancelled.status == "cancelled" and cancelled.file_counts.cancelled == 2
    assert sdk.vector_stores.files.retrieve(e.id, vector_store_id=STORE).status == "cancelled"


def test_errors_map_to_sdk_exceptions(sdk: OpenAI, server: EmulatorServer) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.vector_stores.retrieve("vs_nope")
    assert "vs_nope" in missing.value.message and missing.value.request_id
    with pytest.raises(openai.BadRequestError) as wrong_kind:
        sdk.vector_stores.file_batches.retrieve(STORE, vector_store_id=STORE)
    assert wrong_kind.value.param == "batch_id"
    f = sdk.files.create(file=("a.md", b"text"), purpose="assistants")
    with pytest.raises(openai.BadRequestError) as too_many:
        sdk.vector_stores.files.create(
            vector_store_id=STORE, file_id=f.id, attributes={f"k{i}": i for i in range(17)}
        )
    assert too_many.value.code == "object_above_max_properties"
    with pytest.raises(openai.BadRequestError) as overlap:
        sdk.vector_stores.files.create(
            vector_store_id=STORE,
            file_id=f.id,
            chunking_strategy={
                "type": "static",
                "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101},
            },
        )
    assert overlap.value.param == "chunking_strategy.static.chunk_overlap_tokens"
    intruder = OpenAI(api_key="sk-wrong", base_url=server.url + "/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        intruder.vector_stores.list()
    assert denied.value.code == "invalid_api_key"
    assert "sk-wrong" not in denied.value.message
    intruder.close()


def test_async_client(server: EmulatorServer) -> None:
    async def run() -> tuple[str, int, list[str]]:
        async with AsyncOpenAI(
            api_key=KEY, base_url=server.url + "/v1", _strict_response_validation=True
        ) as client:
            batch = await client.vector_stores.file_batches.upload_and_poll(
                STORE, files=[("a.md", HANDBOOK.encode()), ("b.md", b"gift cards")]
            )
            found = await client.vector_stores.search(STORE, query="gift cards")
            return batch.status, batch.file_counts.completed, [h.filename for h in found.data]

    assert asyncio.run(run()) == ("completed", 2, ["b.md"])


@pytest.mark.slow
def test_sdk_retries_injected_failures_without_duplicates(tmp_path: Path) -> None:
    # seed 1 with fail_rate 0.5: four injected 500/503 answers across three creates, never
    # three in a row, so the SDK's own retries (with its real backoff) get every create through
    config = EmulatorConfig(api_key=KEY, fail_rate=0.5, seed=1)
    with EmulatorServer(build_app(config, SystemClock(), None), port=0) as srv:
        client = OpenAI(api_key=KEY, base_url=srv.url + "/v1", _strict_response_validation=True)
        made = [client.vector_stores.create(name=f"kb{i}").id for i in range(3)]
        client.close()
        assert [vs["id"] for vs in srv.app.openai.world.stores()] == made
        assert srv.app.openai.injected == {"fail_rate": 4}
