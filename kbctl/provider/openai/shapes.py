"""OpenAI wire JSON → kbctl values: vector stores, Files, vector-store files, search hits, and
kbctl's marker in a file's attributes.

Owns the reserved `kbctl_*` attribute keys (who owns an attachment, for which key and content)
and the reading of every answer kbctl uses; wire dicts never leave `kbctl.provider`. A shape it
cannot read raises `ShapeError` (turned into a `ProtocolError` by `reading`). Must not send
requests or decide anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import PurePosixPath

from kbctl.chunking import (
    RESERVED_ATTRIBUTE_PREFIX,
    Chunking,
    ChunkingStrategy,
    Metadata,
    MetadataValue,
)
from kbctl.identity import document_name, parse_marker, shared_document_name
from kbctl.jsonread import JsonObj
from kbctl.model import DocType, DocumentSpec, IndexStatus, Marker
from kbctl.provider import wire
from kbctl.provider.base import IndexState
from kbctl.provider.wire import WIRE, answer

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
class Batch:
    """A file batch: its id and the counts of its files by status."""

    id: str
    in_progress: int
    completed: int
    failed: int
    cancelled: int
    total: int


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result."""

    file_id: str
    filename: str
    score: float


def reading(method: str, path: str) -> AbstractContextManager[None]:
    """Turn a `ShapeError` raised while reading an answer into a `ProtocolError`."""
    return wire.reading(method, path, service="OpenAI API", after="Nothing more was written.")


def store(value: object, where: str) -> Store:
    data = answer(value, where)
    return Store(data.text("id"), data.opt_text("name") or "", data.opt_integer("usage_bytes") or 0)


def file_info(value: object, where: str) -> FileInfo:
    data = answer(value, where)
    return FileInfo(
        data.text("id"),
        data.opt_text("filename") or "",
        data.opt_integer("bytes") or 0,
        data.opt_integer("created_at"),
    )


def _attribute(value: object, where: str) -> MetadataValue:
    if not isinstance(value, str | int | float | bool):
        raise WIRE.expected(where, "a string, number or boolean", value)
    return value


def store_file(value: object, where: str) -> StoreFile:
    data = answer(value, where)
    error = data.opt_obj("last_error")
    return StoreFile(
        data.text("id"),
        data.opt_text("status") or "",
        data.obj_or_empty("attributes").values(_attribute),
        data.opt_integer("created_at"),
        (error.opt_text("message") or "failed") if error is not None else None,
        data.opt_integer("usage_bytes") or 0,
        _static_sizes(data.opt_obj("chunking_strategy", missing_ok=True)),
    )


def _static_sizes(strategy: JsonObj | None) -> tuple[int, int] | None:
    """`(max, overlap)` of a `static` chunking strategy as the API echoes it, else None
    (`other`: files processed before chunking strategies existed)."""
    if strategy is None or strategy.opt_text("type", missing_ok=True) != "static":
        return None
    static = strategy.obj("static")
    return static.integer("max_chunk_size_tokens"), static.integer("chunk_overlap_tokens")


def content_texts(value: object, where: str) -> list[str]:
    """The text items of a `vector_store.file_content.page` (the parsed content, in order)."""
    data = answer(value, where)
    texts = (item.opt_text("text", missing_ok=True) for item in data.opt_objs("data"))
    return [text for text in texts if text is not None]


def batch(value: object, where: str) -> Batch:
    data = answer(value, where)
    counts = data.obj("file_counts")
    return Batch(
        data.text("id"),
        counts.integer("in_progress"),
        counts.integer("completed"),
        counts.integer("failed"),
        counts.integer("cancelled"),
        counts.integer("total"),
    )


def attachment_body(
    file_id: str, attributes: Mapping[str, MetadataValue], chunking: Chunking | None
) -> dict[str, object]:
    """One file to attach: the File, its attributes, its chunking (always sent: a store's
    default is not inherited)."""
    return {
        "file_id": file_id,
        "attributes": dict(attributes),
        "chunking_strategy": chunking_body(chunking),
    }


def hit(value: object, where: str) -> Hit:
    data = answer(value, where)
    return Hit(
        data.text("file_id"), data.opt_text("filename") or "", data.opt_number("score") or 0.0
    )


def page(value: object, where: str) -> tuple[list[object], bool]:
    """The items of a list answer and whether more follow."""
    data = answer(value, where)
    return data.opt_items("data") or [], data.opt_flag("has_more") is True


# ------------------------------------------------------------------------------------------
# kbctl's marker in attributes


def marker_attributes(marker: Marker, doc_type: DocType) -> dict[str, MetadataValue]:
    """The reserved attributes that say a file is kbctl's, for which key, content and type."""
    return {
        KEY: marker.key,
        OWNER: f"{marker.project}/{marker.environment or ''}",
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
        if marker.environment is None:  # never written to a store: a store does not share
            return shared_document_name(marker.key, marker.project, marker.hash12)
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
