"""OpenAI wire JSON → kbctl values: vector stores, Files, vector-store files, search hits, and
kbctl's marker in a file's attributes.

Owns the reserved `kbctl_*` attribute keys (who owns an attachment, for which key and content)
and the reading of every answer kbctl uses; wire dicts never leave `kbctl.provider`. A shape it
cannot read raises `ShapeError` (turned into a `ProtocolError` by `reading`). Must not send
requests or decide anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath

from kbctl.chunking import (
    RESERVED_ATTRIBUTE_PREFIX,
    Chunking,
    ChunkingStrategy,
    Metadata,
    MetadataValue,
)
from kbctl.errors import ProtocolError
from kbctl.identity import document_name, parse_marker
from kbctl.model import DocType, DocumentSpec, IndexStatus, Marker
from kbctl.provider import wire
from kbctl.provider.base import IndexState
from kbctl.provider.wire import ShapeError

#: The reserved attributes kbctl writes on every file it attaches (the 4 it keeps).
KEY = f"{RESERVED_ATTRIBUTE_PREFIX}key"  # the document key
OWNER = f"{RESERVED_ATTRIBUTE_PREFIX}owner"  # "<project>/<environment>"
HASH = f"{RESERVED_ATTRIBUTE_PREFIX}hash"  # 12 hex digits of the identity hash
TYPE = f"{RESERVED_ATTRIBUTE_PREFIX}type"  # the declared type: text or file

#: A vector-store file's status → the model's index status (cancelled counts as failed).
_STATUSES = {
    "in_progress": IndexStatus.PROCESSING,
    "completed": IndexStatus.SUCCEEDED,
    "failed": IndexStatus.FAILED,
    "cancelled": IndexStatus.FAILED,
}


@dataclass(frozen=True, slots=True)
class Store:
    """A vector store."""

    id: str
    name: str
    usage_bytes: int


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A File object (the uploaded bytes, shared by every store it is attached to)."""

    id: str
    filename: str
    size_bytes: int
    created_at: int | None


@dataclass(frozen=True, slots=True)
class StoreFile:
    """A File's attachment to one store: status, attributes, chunking."""

    id: str
    status: str
    attributes: Mapping[str, MetadataValue]
    created_at: int | None
    error: str | None
    usage_bytes: int
    #: The chunking it was processed with, as `(max_chunk_size_tokens, chunk_overlap_tokens)`;
    #: None when the API says `other` (files older than chunking strategies) or nothing.
    chunking: tuple[int, int] | None = None

    @property
    def index_status(self) -> IndexStatus:
        return _STATUSES.get(self.status, IndexStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result."""

    file_id: str
    filename: str
    score: float


@contextmanager
def reading(method: str, path: str) -> Iterator[None]:
    """Turn a `ShapeError` raised while reading an answer into a `ProtocolError`."""
    try:
        yield
    except ShapeError as exc:
        raise ProtocolError(
            "The OpenAI API sent an answer kbctl cannot read",
            method=method,
            path=path,
            detail=f"{method} {path}: {exc}",
            hint="The API may have changed; check for a newer kbctl. Nothing more was written.",
        ) from None


def store(value: object, where: str) -> Store:
    data = wire.obj(value, where)
    return Store(
        wire.req_str(data, "id", where),
        wire.opt_str(data, "name", where) or "",
        wire.opt_int(data, "usage_bytes", where) or 0,
    )


def file_info(value: object, where: str) -> FileInfo:
    data = wire.obj(value, where)
    return FileInfo(
        wire.req_str(data, "id", where),
        wire.opt_str(data, "filename", where) or "",
        wire.opt_int(data, "bytes", where) or 0,
        wire.opt_int(data, "created_at", where),
    )


def store_file(value: object, where: str) -> StoreFile:
    data = wire.obj(value, where)
    raw = wire.field_obj(data, "attributes", where) or {}
    attributes: dict[str, MetadataValue] = {}
    for key, item in raw.items():
        if not isinstance(item, str | int | float | bool):
            raise ShapeError(f"{where}.attributes.{key}: expected a string, number or boolean")
        attributes[key] = item
    error = wire.field_obj(data, "last_error", where)
    return StoreFile(
        wire.req_str(data, "id", where),
        wire.opt_str(data, "status", where) or "",
        attributes,
        wire.opt_int(data, "created_at", where),
        (wire.opt_str(error, "message", where) or "failed") if error is not None else None,
        wire.opt_int(data, "usage_bytes", where) or 0,
        _static_sizes(wire.field_obj(data, "chunking_strategy", where), where),
    )


def _static_sizes(strategy: Mapping[str, object] | None, where: str) -> tuple[int, int] | None:
    """`(max, overlap)` of a `static` chunking strategy as the API echoes it, else None."""
    if strategy is None or strategy.get("type") != "static":
        return None
    static = wire.field_obj(strategy, "static", f"{where}.chunking_strategy")
    if static is None:
        return None
    size = wire.opt_int(static, "max_chunk_size_tokens", f"{where}.chunking_strategy.static")
    overlap = wire.opt_int(static, "chunk_overlap_tokens", f"{where}.chunking_strategy.static")
    return (size, overlap) if size is not None and overlap is not None else None


def content_texts(value: object, where: str) -> list[str]:
    """The text items of a `vector_store.file_content.page` (the parsed content, in order)."""
    data = wire.obj(value, where)
    out: list[str] = []
    for i, item in enumerate(wire.field_list(data, "data", where)):
        part = wire.obj(item, f"{where}.data[{i}]")
        text = wire.opt_str(part, "text", f"{where}.data[{i}]")
        if text is not None:
            out.append(text)
    return out


def hit(value: object, where: str) -> Hit:
    data = wire.obj(value, where)
    return Hit(
        wire.req_str(data, "file_id", where),
        wire.opt_str(data, "filename", where) or "",
        wire.opt_float(data, "score", where) or 0.0,
    )


def page(value: object, where: str) -> tuple[list[object], bool]:
    """The items of a list answer and whether more follow."""
    data = wire.obj(value, where)
    return wire.field_list(data, "data", where), bool(wire.opt_bool(data, "has_more", where))


# ------------------------------------------------------------------------------------------
# kbctl's marker in attributes


def marker_attributes(marker: Marker, doc_type: DocType) -> dict[str, MetadataValue]:
    """The reserved attributes that say a file is kbctl's, for which key, content and type."""
    return {
        KEY: marker.key,
        OWNER: f"{marker.project}/{marker.environment}",
        HASH: marker.hash12,
        TYPE: doc_type.value,
    }


def doc_type_of(attributes: Mapping[str, MetadataValue]) -> DocType:
    """The declared type kept in the attributes (a file attached by hand is a file)."""
    value = attributes.get(TYPE)
    return DocType.TEXT if value == DocType.TEXT.value else DocType.FILE


def read_marker(attributes: Mapping[str, MetadataValue]) -> Marker | None:
    """kbctl's marker from a file's attributes (any project), or None."""
    key, owner, digest = attributes.get(KEY), attributes.get(OWNER), attributes.get(HASH)
    if not (isinstance(key, str) and isinstance(owner, str) and isinstance(digest, str)):
        return None
    project, slash, environment = owner.partition("/")
    if not (slash and project and environment and key):
        return None
    return Marker(key=key, project=project, environment=environment, hash12=digest)


def user_metadata(attributes: Mapping[str, MetadataValue]) -> Metadata:
    """The user's attributes: everything but kbctl's reserved keys, sorted, numbers normalised
    (an integral float reads as the integer it is)."""
    out: list[tuple[str, MetadataValue]] = []
    for key, value in sorted(attributes.items()):
        if key.startswith(RESERVED_ATTRIBUTE_PREFIX):
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        out.append((key, value))
    return tuple(out)


def chunking_body(chunking: Chunking | None) -> dict[str, object]:
    """The `chunking_strategy` sent with every attach (a store's default is not inherited)."""
    if chunking is None or chunking.strategy is ChunkingStrategy.AUTO:
        return {"type": "auto"}
    size, overlap = chunking.effective()
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }


#: Extensions the store indexes as they are; anything else is uploaded as `.txt`.
_EXTENSIONS = frozenset({".md", ".txt", ".html", ".json", ".pdf", ".docx", ".pptx", ".doc"})


def name_of(sf: StoreFile, marker: Marker | None, info: FileInfo | None) -> str:
    """What the planner compares: kbctl's document name, or the File's own name."""
    if marker is not None:
        return document_name(marker.key, marker.project, marker.environment, marker.hash12)
    return info.filename if info is not None and info.filename else sf.id


def stem(filename: str) -> str:
    """A file name without its extension."""
    stem, dot, _ = filename.rpartition(".")
    return stem if dot else filename


def file_marker(filename: str) -> Marker | None:
    """kbctl's marker in an uploaded File's name (the extension left out)."""
    return parse_marker(stem(filename))


def extension(spec: DocumentSpec) -> str:
    """The extension a document is uploaded with (one the store can index, else .txt)."""
    suffix = PurePosixPath(spec.filename or spec.key).suffix.lower()
    return suffix if suffix in _EXTENSIONS else ".txt"


def state_of(sf: StoreFile) -> IndexState:
    """A store file's processing status as kbctl's index state."""
    status = sf.index_status
    progress = 100.0 if status is IndexStatus.SUCCEEDED else 0.0
    return IndexState(status, progress, sf.usage_bytes)
