"""Index state of many documents at once: batch `POST …/knowledge-base/rag-index` (≤ 100 items,
`create_if_missing` false to read, true to request), both answer shapes, and the per-document
fallback where the batch endpoint is absent."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from kbctl.errors import ApiError, NotFoundError
from kbctl.model import IndexStatus
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient

from .conftest import MODEL, Rig

MakeClient = Callable[..., ApiClient]
BATCH = "POST /v1/convai/knowledge-base/rag-index"
ONE_GET = "GET /v1/convai/knowledge-base/{id}/rag-index"
KB = "/v1/convai/knowledge-base"


def add_docs(rig: Rig, n: int) -> list[str]:
    return [rig.world.add_document("text", f"doc {i}", f"body {i} " * 100) for i in range(n)]


def test_states_of_250_documents_take_three_batch_requests(rig: Rig) -> None:
    ids = add_docs(rig, 250)
    indexed = ids[::2]
    for doc_id in indexed:
        rig.world.compute_index(doc_id, MODEL)
    rig.clock.advance(60)

    states = rig.provider.index_states(ids, MODEL)

    assert rig.client.route_calls[BATCH] == 3
    assert rig.client.route_calls[ONE_GET] == 0
    assert list(states) == ids
    assert {states[d].status for d in indexed} == {IndexStatus.SUCCEEDED}
    assert {states[d].status for d in ids[1::2]} == {IndexStatus.NOT_INDEXED}
    # reading created nothing
    assert rig.provider.index_state(ids[1], MODEL).status is IndexStatus.NOT_INDEXED


def test_request_indexes_starts_them_in_batches(rig: Rig) -> None:
    ids = add_docs(rig, 120)
    started = rig.provider.request_indexes(ids, MODEL)
    assert rig.client.route_calls[BATCH] == 2
    assert all(s.status is not IndexStatus.NOT_INDEXED for s in started.values())
    rig.clock.advance(60)
    states = rig.provider.index_states(ids, MODEL)
    assert {s.status for s in states.values()} == {IndexStatus.SUCCEEDED}


def test_empty_and_repeated_ids(rig: Rig) -> None:
    assert rig.provider.index_states([], MODEL) == {}
    assert rig.client.calls == 0
    (doc,) = add_docs(rig, 1)
    assert list(rig.provider.index_states([doc, doc], MODEL)) == [doc]
    assert rig.client.route_calls[BATCH] == 1


def test_an_unknown_document_is_not_found(rig: Rig) -> None:
    (doc,) = add_docs(rig, 1)
    with pytest.raises(NotFoundError) as info:
        rig.provider.index_states([doc, "no_such_doc"], MODEL)
    assert info.value.summary == "Document no_such_doc not found in this workspace"


# ------------------------------------------------------------------------------------------
# Answer shapes (UNCONFIRMED) and the fallback, over hand-written answers


def index_json(status: str, model: str = MODEL) -> dict[str, object]:
    return {
        "id": "ix",
        "model": model,
        "status": status,
        "progress_percentage": 100.0 if status == "succeeded" else 10.0,
        "document_model_index_usage": {"used_bytes": 5},
    }


def batch_answer(shape: str, ids: list[str]) -> object:
    items = [index_json("succeeded"), index_json("processing")]
    wrapped: list[object] = [{"status": "success", "data": i} for i in items]
    match shape:
        case "by_id":
            return dict(zip(ids, wrapped, strict=True))
        case "by_position":
            return {str(n): v for n, v in enumerate(wrapped)}
        case "list":
            return wrapped
        case "bare_by_id":
            return dict(zip(ids, items, strict=True))
    raise AssertionError(shape)


def batch_provider(
    make_client: MakeClient, handler: Callable[..., httpx.Response]
) -> tuple[ElevenLabsProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return ElevenLabsProvider(make_client(record)), seen


@pytest.mark.parametrize("shape", ["by_id", "by_position", "list", "bare_by_id"])
def test_both_answer_shapes_are_read(make_client: MakeClient, shape: str) -> None:
    ids = ["d1", "d2"]

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body == {
            "items": [{"document_id": d, "create_if_missing": False, "model": MODEL} for d in ids]
        }
        return httpx.Response(200, json=batch_answer(shape, ids))

    provider, _ = batch_provider(make_client, handler)
    states = provider.index_states(ids, MODEL)
    assert (states["d1"].status, states["d2"].status) == (
        IndexStatus.SUCCEEDED,
        IndexStatus.PROCESSING,
    )


def test_a_document_the_answer_leaves_out_is_read_on_its_own(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                200, json={"d1": {"status": "success", "data": index_json("failed")}}
            )
        assert request.url.path == f"{KB}/d2/rag-index"
        return httpx.Response(200, json={"indexes": [index_json("succeeded")]})

    provider, seen = batch_provider(make_client, handler)
    states = provider.index_states(["d1", "d2"], MODEL)
    assert (states["d1"].status, states["d2"].status) == (
        IndexStatus.FAILED,
        IndexStatus.SUCCEEDED,
    )
    assert [r.method for r in seen] == ["POST", "GET"]


@pytest.mark.parametrize("status", [404, 405, 501])
def test_without_the_batch_endpoint_it_reads_one_by_one_and_remembers(
    make_client: MakeClient, status: int
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(status, json={"detail": {"status": "x", "message": "no route"}})
        doc = request.url.path.split("/")[-2]
        return httpx.Response(
            200, json={"indexes": [index_json("succeeded")] if doc == "d1" else []}
        )

    provider, seen = batch_provider(make_client, handler)
    states = provider.index_states(["d1", "d2"], MODEL)
    assert (states["d1"].status, states["d2"].status) == (
        IndexStatus.SUCCEEDED,
        IndexStatus.NOT_INDEXED,
    )
    provider.index_states(["d1"], MODEL)
    assert [r.method for r in seen].count("POST") == 1  # probed once


def test_request_falls_back_to_per_document_posts(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"{KB}/rag-index":
            return httpx.Response(404, json={"detail": {"status": "not_found", "message": "?"}})
        return httpx.Response(200, json=index_json("processing"))

    provider, seen = batch_provider(make_client, handler)
    states = provider.request_indexes(["d1", "d2"], MODEL)
    assert {s.status for s in states.values()} == {IndexStatus.PROCESSING}
    assert sorted(r.url.path for r in seen[1:]) == [f"{KB}/d1/rag-index", f"{KB}/d2/rag-index"]


def failure(code: int, status: str) -> dict[str, object]:
    return {"status": "failure", "error_code": code, "error_status": status, "error_message": "m"}


def test_item_failures(make_client: MakeClient) -> None:
    answers = {
        "d1": failure(404, "rag_index_not_found"),
        "d2": {"status": "success", "data": index_json("succeeded")},
    }
    provider, _ = batch_provider(make_client, lambda r: httpx.Response(200, json=answers))
    states = provider.index_states(["d1", "d2"], MODEL)
    assert states["d1"].status is IndexStatus.NOT_INDEXED

    answers["d1"] = failure(500, "something_went_wrong")
    with pytest.raises(ApiError) as info:
        provider.index_states(["d1", "d2"], MODEL)
    assert "d1" in info.value.summary and info.value.code == "something_went_wrong"


@pytest.mark.parametrize(
    "answer",
    [{"zz": {"status": "success", "data": {}}}, [{"status": "success"}], {"d1": "yes"}, "ok"],
)
def test_an_unreadable_batch_answer_is_a_protocol_error(
    make_client: MakeClient, answer: object
) -> None:
    from kbctl.errors import ProtocolError

    provider, _ = batch_provider(make_client, lambda r: httpx.Response(200, json=answer))
    with pytest.raises(ProtocolError):
        provider.index_states(["d1"], MODEL)
