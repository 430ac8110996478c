"""The OpenAI endpoints under `/v1`: path templates, request parsing (JSON bodies, the multipart
upload, list query strings) and the calls into `OpenAIWorld`.

Owns the mapping from HTTP to world operations. Must not implement semantics (the world does)
nor the request lifecycle (auth, errors, persistence: see `app`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kbctl.emulator.http.messages import Request, Response, json_response
from kbctl.emulator.openai import bodies
from kbctl.emulator.openai.errors import (
    bad_request,
    invalid_type,
    invalid_value,
    missing_parameter,
    out_of_range,
    unknown_parameter,
)
from kbctl.emulator.openai.records import UPLOAD_PURPOSES, Json
from kbctl.emulator.openai.validate import list_query, parse_json
from kbctl.emulator.openai.world import OpenAIWorld

Params = dict[str, str]
Handler = Callable[[OpenAIWorld, Request, Params], Response]
VS = "/v1/vector_stores/{vector_store_id}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route. `writes`: it may change state (flushed after the answer is built)."""

    method: str
    template: str
    handler: Handler
    writes: bool = False

    @property
    def key(self) -> str:
        """`"GET /v1/vector_stores/{vector_store_id}"`."""
        return f"{self.method} {self.template}"


def _ok(value: Json, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return json_response(value, 200, headers)


def _poll_hint(world: OpenAIWorld, busy: bool) -> tuple[tuple[str, str], ...]:
    """`openai-poll-after-ms` while processing, a tenth of `index_seconds` (10 ms to 1 s), so
    the SDK's `*_and_poll` helpers neither hammer nor dawdle."""
    if not busy:
        return ()
    ms = min(1000, max(10, round(world.config.index_seconds * 100)))
    return (("openai-poll-after-ms", str(ms)),)


# ---------------------------------------------------------------------------------- files
def upload(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`POST /files` (multipart: `file`, `purpose`, `expires_after[anchor|seconds]`)."""
    fields, files = request.form()
    for name in list(fields) + list(files):
        if name not in ("file", "purpose", "expires_after[anchor]", "expires_after[seconds]"):
            raise unknown_parameter(name)
    part = files.get("file")
    if part is None:
        raise missing_parameter("file")
    if "purpose" not in fields:
        raise missing_parameter("purpose")
    purpose = fields["purpose"]
    if purpose not in UPLOAD_PURPOSES:
        raise invalid_value("purpose", purpose, UPLOAD_PURPOSES)
    expires_in = None
    if "expires_after[anchor]" in fields or "expires_after[seconds]" in fields:
        anchor = fields.get("expires_after[anchor]")
        if anchor != "created_at":
            raise invalid_value("expires_after.anchor", anchor, ("created_at",))
        raw = fields.get("expires_after[seconds]")
        if raw is None:
            raise missing_parameter("expires_after.seconds")
        try:
            expires_in = int(raw)
        except ValueError:
            raise invalid_type("expires_after.seconds", "an integer", raw) from None
        if not 3600 <= expires_in <= 2_592_000:
            raise out_of_range("expires_after.seconds", expires_in, 3600, 2_592_000)
    if not part.filename:
        raise bad_request("The uploaded file has no filename.", "file")
    return _ok(world.upload(part.filename, purpose, part.data, expires_in))


def list_files(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`GET /files` (no `before`; limit up to 10,000)."""
    q = list_query(request.query, max_limit=10_000, default_limit=10_000, before=False)
    purpose = (request.query.get("purpose") or [""])[-1] or None
    return _ok(world.list_files(q, purpose))


def get_file(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`GET /v1/files/{file_id}`."""
    return _ok(world.get_file(params["file_id"]))


def delete_file(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`DELETE /v1/files/{file_id}`."""
    return _ok(world.delete_file(params["file_id"]))


def file_content(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """The bytes uploaded, as `application/octet-stream` (refused for some purposes)."""
    return Response(200, world.download(params["file_id"]), "application/octet-stream")


# ---------------------------------------------------------------------------------- stores
def create_store(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`POST /v1/vector_stores`."""
    return _ok(world.create_store(bodies.store_create(parse_json(request.body))))


def list_stores(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`GET /v1/vector_stores`."""
    return _ok(world.list_stores(list_query(request.query)))


def get_store(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`GET /v1/vector_stores/{vector_store_id}`."""
    return _ok(world.get_store(params["vector_store_id"]))


def update_store(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`POST /v1/vector_stores/{vector_store_id}`."""
    change = bodies.store_update(parse_json(request.body))
    return _ok(world.update_store(params["vector_store_id"], change))


def delete_store(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`DELETE /v1/vector_stores/{vector_store_id}`."""
    return _ok(world.delete_store(params["vector_store_id"]))


def search(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`POST /v1/vector_stores/{vector_store_id}/search`."""
    query = bodies.search(parse_json(request.body))
    return _ok(world.search(params["vector_store_id"], query))


# ---------------------------------------------------------------------------------- store files
def attach(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`POST /v1/vector_stores/{vector_store_id}/files`."""
    spec = bodies.attach(parse_json(request.body))
    return _ok(world.attach(params["vector_store_id"], spec))


def list_store_files(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`GET /v1/vector_stores/{vector_store_id}/files`."""
    q = list_query(request.query, status_filter=True)
    return _ok(world.list_store_files(params["vector_store_id"], q))


def get_store_file(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`GET /v1/vector_stores/{vector_store_id}/files/{file_id}`."""
    found = world.get_store_file(params["vector_store_id"], params["file_id"])
    return _ok(found, _poll_hint(world, found["status"] == "in_progress"))


def update_store_file(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`POST /v1/vector_stores/{vector_store_id}/files/{file_id}`."""
    attrs = bodies.attributes_update(parse_json(request.body))
    return _ok(world.update_attributes(params["vector_store_id"], params["file_id"], attrs))


def detach(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`DELETE /v1/vector_stores/{vector_store_id}/files/{file_id}`."""
    return _ok(world.detach(params["vector_store_id"], params["file_id"]))


def store_file_content(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`GET /v1/vector_stores/{vector_store_id}/files/{file_id}/content`."""
    return _ok(world.store_file_content(params["vector_store_id"], params["file_id"]))


# ---------------------------------------------------------------------------------- batches
def create_batch(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`POST /v1/vector_stores/{vector_store_id}/file_batches`."""
    specs = bodies.batch(parse_json(request.body))
    return _ok(world.create_batch(params["vector_store_id"], specs))


def get_batch(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}`."""
    found = world.get_batch(params["vector_store_id"], params["batch_id"])
    counts = found["file_counts"]
    assert isinstance(counts, dict)
    return _ok(found, _poll_hint(world, counts["in_progress"] > 0))


def cancel_batch(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`POST /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel`."""
    parse_json(request.body)
    return _ok(world.cancel_batch(params["vector_store_id"], params["batch_id"]))


def list_batch_files(world: OpenAIWorld, request: Request, params: Params) -> Response:
    """`GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/files`."""
    q = list_query(request.query, status_filter=True)
    found = world.list_store_files(params["vector_store_id"], q, batch_id=params["batch_id"])
    return _ok(found)


ENDPOINTS = (
    Endpoint("POST", "/v1/files", upload, writes=True),
    Endpoint("GET", "/v1/files", list_files),
    Endpoint("GET", "/v1/files/{file_id}", get_file),
    Endpoint("DELETE", "/v1/files/{file_id}", delete_file, writes=True),
    Endpoint("GET", "/v1/files/{file_id}/content", file_content),
    Endpoint("POST", "/v1/vector_stores", create_store, writes=True),
    Endpoint("GET", "/v1/vector_stores", list_stores),
    Endpoint("GET", VS, get_store),
    Endpoint("POST", VS, update_store, writes=True),
    Endpoint("DELETE", VS, delete_store, writes=True),
    Endpoint("POST", VS + "/search", search),  # only moves last_active_at: not a fault target
    Endpoint("POST", VS + "/files", attach, writes=True),
    Endpoint("GET", VS + "/files", list_store_files),
    Endpoint("GET", VS + "/files/{file_id}", get_store_file),
    Endpoint("POST", VS + "/files/{file_id}", update_store_file, writes=True),
    Endpoint("DELETE", VS + "/files/{file_id}", detach, writes=True),
    Endpoint("GET", VS + "/files/{file_id}/content", store_file_content),
    Endpoint("POST", VS + "/file_batches", create_batch, writes=True),
    Endpoint("GET", VS + "/file_batches/{batch_id}", get_batch),
    Endpoint("POST", VS + "/file_batches/{batch_id}/cancel", cancel_batch, writes=True),
    Endpoint("GET", VS + "/file_batches/{batch_id}/files", list_batch_files),
)
