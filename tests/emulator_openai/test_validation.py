"""Request validation against the reference's limits: chunking, attributes, metadata, batches,
expiry, uploads and search parameters, each a 400 naming the offending parameter."""

from __future__ import annotations

import httpx
import pytest

from tests.emulator_openai.conftest import attach, error_of, new_store, ok, upload

SIZE = "chunking_strategy.static.max_chunk_size_tokens"
OVERLAP = "chunking_strategy.static.chunk_overlap_tokens"


def static(size: object, overlap: object) -> dict:
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }


@pytest.mark.parametrize(
    ("strategy", "param", "code"),
    [
        (static(99, 0), SIZE, "integer_below_min_value"),
        (static(4097, 0), SIZE, "integer_above_max_value"),
        (static(800, 401), OVERLAP, "invalid_value"),
        (static(800, -1), OVERLAP, "integer_below_min_value"),
        (static(800.5, 0), SIZE, "invalid_type"),
        ({"type": "static"}, "chunking_strategy.static", "missing_required_parameter"),
        ({"type": "other"}, "chunking_strategy.type", "invalid_value"),
        ({"type": "auto", "static": {}}, "chunking_strategy.static", "unknown_parameter"),
        ({"static": {}}, "chunking_strategy.type", "missing_required_parameter"),
    ],
)  # fmt: skip
def test_chunking_limits(client: httpx.Client, strategy: dict, param: str, code: str) -> None:
    store = new_store(client)
    body = {"file_id": upload(client), "chunking_strategy": strategy}
    error = error_of(client.post(f"/vector_stores/{store}/files", json=body), 400)
    assert (error["param"], error["code"]) == (param, code)


def test_chunking_edges_are_accepted(client: httpx.Client) -> None:
    store = new_store(client)
    for size, overlap in ((100, 50), (4096, 0), (801, 400)):
        got = attach(client, store, upload(client), chunking_strategy=static(size, overlap))
        assert got["chunking_strategy"] == static(size, overlap)


@pytest.mark.parametrize(
    ("attributes", "param", "code"),
    [
        ({f"k{i}": i for i in range(17)}, "attributes", "object_above_max_properties"),
        ({"k" * 65: "v"}, "attributes", "invalid_value"),
        ({"title": "x" * 513}, "attributes.title", "string_above_max_length"),
        ({"tags": ["a"]}, "attributes.tags", "invalid_type"),
        ({"nested": {"a": 1}}, "attributes.nested", "invalid_type"),
        ({"none": None}, "attributes.none", "invalid_type"),
        ("flat", "attributes", "invalid_type"),
    ],
)
def test_attribute_limits(client: httpx.Client, attributes: object, param: str, code: str) -> None:
    store = new_store(client)
    file_id = upload(client)
    body = {"file_id": file_id, "attributes": attributes}
    error = error_of(client.post(f"/vector_stores/{store}/files", json=body), 400)
    assert (error["param"], error["code"]) == (param, code)
    attach(client, store, file_id)
    update = client.post(f"/vector_stores/{store}/files/{file_id}", json={"attributes": attributes})
    assert error_of(update, 400)["param"] == param
    batch = {"files": [{"file_id": file_id, "attributes": attributes}]}
    error = error_of(client.post(f"/vector_stores/{store}/file_batches", json=batch), 400)
    assert error["param"] == param.replace("attributes", "files[0].attributes", 1)


def test_attribute_edges_are_accepted(client: httpx.Client) -> None:
    store = new_store(client)
    attrs = {f"k{i}": i for i in range(13)} | {
        "k" * 64: "x" * 512,
        "flag": True,
        "ratio": 0.5,
    }
    assert attach(client, store, upload(client), attributes=attrs)["attributes"] == attrs


@pytest.mark.parametrize(
    ("metadata", "param", "code"),
    [
        ({f"k{i}": "v" for i in range(17)}, "metadata", "object_above_max_properties"),
        ({"owner": 3}, "metadata.owner", "invalid_type"),
        ({"owner": "x" * 513}, "metadata.owner", "string_above_max_length"),
    ],
)
def test_metadata_limits(client: httpx.Client, metadata: dict, param: str, code: str) -> None:
    error = error_of(client.post("/vector_stores", json={"metadata": metadata}), 400)
    assert (error["param"], error["code"]) == (param, code)
    store = new_store(client)
    error = error_of(client.post(f"/vector_stores/{store}", json={"metadata": metadata}), 400)
    assert error["param"] == param


def test_store_create_and_update_shapes(client: httpx.Client) -> None:
    plain = ok(client.post("/vector_stores", json={}))
    assert plain["name"] == "" and plain["metadata"] == {} and plain["expires_after"] is None
    assert plain["object"] == "vector_store" and plain["last_active_at"] == plain["created_at"]
    named = ok(
        client.post("/vector_stores", json={"name": "kb", "description": "d", "metadata": None})
    )
    assert named["metadata"] is None and "description" not in named
    store = named["id"]
    assert ok(client.post(f"/vector_stores/{store}", json={"name": None}))["name"] == "kb"
    assert ok(client.post(f"/vector_stores/{store}", json={"metadata": {"a": "b"}}))[
        "metadata"
    ] == {"a": "b"}
    for days in (0, 366):
        body = {"expires_after": {"anchor": "last_active_at", "days": days}}
        assert error_of(client.post("/vector_stores", json=body), 400)["param"] == (
            "expires_after.days"
        )
    body = {"expires_after": {"anchor": "created_at", "days": 3}}
    assert (
        error_of(client.post("/vector_stores", json=body), 400)["param"] == "expires_after.anchor"
    )
    error = error_of(client.post("/vector_stores", json={"file_ids": ["f"] * 501}), 400)
    assert error["code"] == "array_above_max_length"
    error = error_of(client.post(f"/vector_stores/{store}", json={"chunking_strategy": {}}), 400)
    assert error["code"] == "unknown_parameter"


def test_batch_bodies(client: httpx.Client) -> None:
    store = new_store(client)
    file_id = upload(client)
    url = f"/vector_stores/{store}/file_batches"
    both = {"file_ids": [file_id], "files": [{"file_id": file_id}]}
    error_of(client.post(url, json=both), 400)
    assert error_of(client.post(url, json={}), 400)["code"] == "missing_required_parameter"
    assert error_of(client.post(url, json={"file_ids": []}), 400)["code"] == "empty_array"
    assert error_of(client.post(url, json={"files": []}), 400)["code"] == "empty_array"
    too_many = {"file_ids": [file_id] * 2001}
    assert error_of(client.post(url, json=too_many), 400)["code"] == "array_above_max_length"
    extra = {"files": [{"file_id": file_id, "colour": "red"}]}
    assert error_of(client.post(url, json=extra), 400)["param"] == "files[0].colour"
    error = error_of(client.post(url, json={"file_ids": [file_id, "file-missing"]}), 404)
    assert "file-missing" in error["message"]
    assert ok(client.get(f"/vector_stores/{store}/files"))["data"] == []  # nothing attached
    # with `files`, the global attributes and chunking are ignored
    body = {
        "files": [{"file_id": file_id}],
        "attributes": {"dept": "hr"},
        "chunking_strategy": static(100, 0),
    }
    ok(client.post(url, json=body))
    got = ok(client.get(f"/vector_stores/{store}/files/{file_id}"))
    assert got["attributes"] is None
    assert got["chunking_strategy"]["static"]["max_chunk_size_tokens"] == 800


def test_uploads(client: httpx.Client) -> None:
    def post(data: dict, files: dict | None = None) -> httpx.Response:
        return client.post("/files", data=data, files=files or {"file": ("a.md", b"x")})

    assert error_of(post({}), 400)["param"] == "purpose"
    assert error_of(post({"purpose": "fun"}), 400)["code"] == "invalid_value"
    r = client.post("/files", data={"purpose": "assistants"}, files={"other": ("a.md", b"x")})
    assert error_of(r, 400)["code"] == "unknown_parameter"
    r = client.post("/files", json={"purpose": "assistants"})
    assert error_of(r, 400)["param"] == "file"
    seconds = {"purpose": "batch", "expires_after[anchor]": "created_at"}
    assert error_of(post({**seconds, "expires_after[seconds]": "60"}), 400)["code"] == (
        "integer_below_min_value"
    )
    made = ok(post({**seconds, "expires_after[seconds]": "3600"}))
    assert made["expires_at"] == made["created_at"] + 3600 and made["purpose"] == "batch"
    nested = ok(post({"purpose": "assistants"}, {"file": ("dir/q 2.md", b"abc", "text/markdown")}))
    assert nested["filename"] == "dir/q 2.md" and nested["bytes"] == 3
    assert nested["status"] == "processed" and nested["status_details"] is None


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "query", "missing_required_parameter"),
        ({"query": []}, "query", "empty_array"),
        ({"query": 3}, "query", "invalid_type"),
        ({"query": "q", "max_num_results": 0}, "max_num_results", "integer_below_min_value"),
        ({"query": "q", "max_num_results": 51}, "max_num_results", "integer_above_max_value"),
        ({"query": "q", "ranking_options": {"score_threshold": 1.5}},
         "ranking_options.score_threshold", "decimal_above_max_value"),
        ({"query": "q", "ranking_options": {"ranker": "best"}}, "ranking_options.ranker",
         "invalid_value"),
        ({"query": "q", "rewrite_query": "yes"}, "rewrite_query", "invalid_type"),
        ({"query": "q", "page": 2}, "page", "unknown_parameter"),
        ({"query": "q", "filters": {"type": "like", "key": "a", "value": "b"}}, "filters.type",
         "invalid_value"),
        ({"query": "q", "filters": {"type": "in", "key": "a", "value": "b"}}, "filters.value",
         "invalid_type"),
        ({"query": "q", "filters": {"type": "eq", "key": "a"}}, "filters.value",
         "missing_required_parameter"),
        ({"query": "q", "filters": {"type": "and", "filters": [{"key": "a", "value": [1]}]}},
         "filters.filters[0].value", "invalid_type"),
        ({"query": "q", "filters": {"type": "or", "filters": {}}}, "filters.filters",
         "invalid_type"),
    ],
)  # fmt: skip
def test_search_parameters(client: httpx.Client, body: dict, param: str, code: str) -> None:
    store = new_store(client)
    error = error_of(client.post(f"/vector_stores/{store}/search", json=body), 400)
    assert (error["param"], error["code"]) == (param, code)
