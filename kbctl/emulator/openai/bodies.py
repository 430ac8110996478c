"""Request bodies of the OpenAI endpoints, validated against the closed schemas of the reference
(§4–§7) and turned into small values the world acts on.

Owns per-endpoint body shapes. Must not touch state: unknown ids are the world's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from kbctl.emulator.openai.errors import bad_request, invalid_type, too_long, too_short
from kbctl.emulator.openai.filters import check_filter
from kbctl.emulator.openai.records import MAX_BATCH_FILES, MAX_STORE_FILE_IDS, Chunking, Json
from kbctl.emulator.openai.validate import (
    attributes,
    boolean,
    choice,
    chunking,
    closed,
    integer,
    metadata,
    number,
    string,
)

UNSET: object = object()
RANKERS = ("none", "auto", "default-2024-11-15")


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One File to attach, with its attributes and chunking."""

    file_id: str
    attributes: Json | None
    chunking: Chunking


@dataclass(frozen=True, slots=True)
class StoreCreate:
    """`POST /vector_stores`."""

    name: str
    metadata: dict[str, str] | None
    expires_after_days: int | None
    files: tuple[FileSpec, ...]


@dataclass(frozen=True, slots=True)
class StoreUpdate:
    """`POST /vector_stores/{id}`: `UNSET` fields are left as they are."""

    name: object
    metadata: object
    expires_after_days: object


@dataclass(frozen=True, slots=True)
class Search:
    """`POST /vector_stores/{id}/search`."""

    queries: tuple[str, ...]
    filters: Json | None
    max_num_results: int
    score_threshold: float


def _expires_after(value: object, path: str = "expires_after") -> int | None:
    if value is None:
        return None
    obj = closed(value, path, ("anchor", "days"), ("anchor", "days"))
    choice(obj["anchor"], f"{path}.anchor", ("last_active_at",))
    return integer(obj["days"], f"{path}.days", 1, 365)


def _file_ids(value: object, path: str, limit: int) -> list[str]:
    if not isinstance(value, list):
        raise invalid_type(path, "an array", value)
    if len(value) > limit:
        raise too_long(path, "array", limit, len(value))
    return [string(item, f"{path}[{i}]") for i, item in enumerate(value)]


def store_create(body: Json) -> StoreCreate:
    """Name, metadata, expiry and the Files to attach at once (with the store's chunking)."""
    closed(
        body,
        "",
        ("name", "description", "file_ids", "chunking_strategy", "expires_after", "metadata"),
    )
    name = body.get("name")
    if "description" in body and body["description"] is not None:
        string(body["description"], "description", 512)
    strategy = body.get("chunking_strategy")
    effective = chunking(strategy) if strategy is not None else Chunking()
    ids = _file_ids(body.get("file_ids") or [], "file_ids", MAX_STORE_FILE_IDS)
    return StoreCreate(
        name=string(name, "name") if name is not None else "",
        metadata=metadata(body.get("metadata")) if "metadata" in body else {},
        expires_after_days=_expires_after(body.get("expires_after")),
        files=tuple(FileSpec(file_id, None, effective) for file_id in ids),
    )


def store_update(body: Json) -> StoreUpdate:
    """Only the keys sent change; `expires_after: null` removes the expiry."""
    closed(body, "", ("name", "metadata", "expires_after"))
    name: object = UNSET
    if body.get("name") is not None:
        name = string(body["name"], "name")
    meta: object = metadata(body["metadata"]) if "metadata" in body else UNSET
    days: object = _expires_after(body["expires_after"]) if "expires_after" in body else UNSET
    return StoreUpdate(name, meta, days)


def _file_spec(obj: Json, path: str, default_attrs: Json | None, default: Chunking) -> FileSpec:
    prefix = f"{path}." if path else ""
    file_id = string(obj["file_id"], f"{prefix}file_id")
    if not file_id:
        raise bad_request(f"Invalid '{prefix}file_id': empty string.", f"{prefix}file_id")
    attrs = attributes(obj["attributes"], f"{prefix}attributes") if "attributes" in obj else None
    strategy = obj.get("chunking_strategy")
    return FileSpec(
        file_id,
        attrs if "attributes" in obj else default_attrs,
        chunking(strategy, f"{prefix}chunking_strategy") if strategy is not None else default,
    )


def attach(body: Json) -> FileSpec:
    """`POST /vector_stores/{id}/files`."""
    closed(body, "", ("file_id", "attributes", "chunking_strategy"), ("file_id",))
    return _file_spec(body, "", None, Chunking())


def attributes_update(body: Json) -> Json | None:
    """`POST /vector_stores/{id}/files/{file_id}`: the (required) new attributes."""
    closed(body, "", ("attributes",), ("attributes",))
    return attributes(body["attributes"])


def batch(body: Json) -> tuple[FileSpec, ...]:
    """`POST …/file_batches`: exactly one of `file_ids` (with global attributes and chunking)
    or `files` (per-file values; the globals are then ignored)."""
    closed(body, "", ("file_ids", "files", "attributes", "chunking_strategy"))
    has_ids, has_files = body.get("file_ids") is not None, body.get("files") is not None
    if has_ids == has_files:
        raise bad_request(
            "Exactly one of 'file_ids' or 'files' must be provided.",
            "file_ids",
            "invalid_value" if has_ids else "missing_required_parameter",
        )
    if has_files:
        items = body["files"]
        if not isinstance(items, list):
            raise invalid_type("files", "an array", items)
        if not items:
            raise too_short("files", "array", 1, 0)
        if len(items) > MAX_BATCH_FILES:
            raise too_long("files", "array", MAX_BATCH_FILES, len(items))
        specs = []
        for i, item in enumerate(items):
            path = f"files[{i}]"
            obj = closed(item, path, ("file_id", "attributes", "chunking_strategy"), ("file_id",))
            specs.append(_file_spec(obj, path, None, Chunking()))
        return tuple(specs)
    ids = _file_ids(body["file_ids"], "file_ids", MAX_BATCH_FILES)
    if not ids:
        raise too_short("file_ids", "array", 1, 0)
    attrs = attributes(body.get("attributes"))
    strategy = body.get("chunking_strategy")
    default = chunking(strategy) if strategy is not None else Chunking()
    return tuple(FileSpec(file_id, attrs, default) for file_id in ids)


def search(body: Json) -> Search:
    """The query (a string or a non-empty array of strings), filters, limits and ranking."""
    closed(
        body,
        "",
        ("query", "filters", "max_num_results", "ranking_options", "rewrite_query"),
        ("query",),
    )
    query = body["query"]
    if isinstance(query, list):
        if not query:
            raise too_short("query", "array", 1, 0)
        queries = tuple(string(q, f"query[{i}]") for i, q in enumerate(query))
    else:
        queries = (string(query, "query"),)
    filters = body.get("filters")
    threshold = 0.0
    options = body.get("ranking_options")
    if options is not None:
        opts = closed(options, "ranking_options", ("ranker", "score_threshold"))
        if "ranker" in opts:
            choice(opts["ranker"], "ranking_options.ranker", RANKERS)
        if "score_threshold" in opts:
            threshold = number(opts["score_threshold"], "ranking_options.score_threshold", 0, 1)
    if body.get("rewrite_query") is not None:
        boolean(body["rewrite_query"], "rewrite_query")
    limit = body.get("max_num_results")
    return Search(
        queries=queries,
        filters=check_filter(filters) if filters is not None else None,
        max_num_results=integer(limit, "max_num_results", 1, 50) if limit is not None else 10,
        score_threshold=threshold,
    )
