"""The emulated OpenAI objects as records: Files, vector stores, attachments (a File in a store)
and file batches, plus ids, limits and the effective chunking settings.

Owns the data shapes and constants. Must not know about HTTP, locking, time or persistence:
`state` and `world` hold and change these records under their lock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

Json = dict[str, object]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

#: Extensions `file_search` accepts; anything else fails with `unsupported_file`.
SUPPORTED_EXTENSIONS = frozenset(
    ("c", "cpp", "cs", "css", "doc", "docx", "go", "html", "java", "js", "json", "md", "pdf",
     "php", "pptx", "py", "rb", "sh", "tex", "ts", "txt")
)  # fmt: skip
#: Purposes `POST /files` accepts.
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
#: Purposes whose Files `GET /files/{id}/content` refuses to give back (400 "Not allowed to
#: download files of purpose: …", seen in the live API's answers).
UNDOWNLOADABLE = frozenset(("assistants", "user_data"))
STATUSES = ("in_progress", "completed", "failed", "cancelled")

DEFAULT_CHUNK_TOKENS = 800
DEFAULT_OVERLAP_TOKENS = 400
MIN_CHUNK_TOKENS = 100
MAX_CHUNK_TOKENS = 4096
MAX_KEYS = 16
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 512
MAX_STORE_FILE_IDS = 500
MAX_BATCH_FILES = 2000


def make_id(prefix: str, seed: int, serial: int, length: int = 24) -> str:
    """`prefix` + base62, a pure function of (seed, serial): the same run gives the same ids."""
    digest = hashlib.sha256(f"kbctl-emulator-openai:{seed}:{serial}".encode()).digest()
    number = int.from_bytes(digest, "big")
    out = []
    for _ in range(length):
        number, rest = divmod(number, len(_ALPHABET))
        out.append(_ALPHABET[rest])
    return prefix + "".join(out)


@dataclass(frozen=True, slots=True)
class Chunking:
    """Effective chunking of an attachment (`auto` is stored as its static equivalent)."""

    max_tokens: int = DEFAULT_CHUNK_TOKENS
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS

    def to_json(self) -> Json:
        """The `static` object the API echoes."""
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.max_tokens,
                "chunk_overlap_tokens": self.overlap_tokens,
            },
        }


@dataclass(slots=True)
class StoredFile:
    """An uploaded File (`/v1/files`)."""

    id: str
    seq: int
    filename: str
    purpose: str
    created_at: int
    expires_at: int | None
    data: bytes = field(repr=False)

    @property
    def text(self) -> str:
        """The content as the emulator reads it (UTF-8, bad bytes replaced)."""
        return self.data.decode("utf-8", errors="replace")

    @property
    def extension(self) -> str:
        """Lower-case extension of the filename ('' without one)."""
        base = self.filename.rsplit("/", 1)[-1]
        return base.rsplit(".", 1)[-1].lower() if "." in base else ""


@dataclass(slots=True)
class VectorStore:
    """A vector store; its file counts and usage are derived from its attachments."""

    id: str
    seq: int
    name: str
    created_at: int
    last_active_at: int
    metadata: dict[str, str] | None
    expires_after_days: int | None = None


@dataclass(slots=True)
class Attachment:
    """A File attached to a vector store (the API's "vector store file"; its id is the File id).

    Processing is decided when it is requested: `outcome` (completed/failed with `error`) is
    reached `index_seconds` after `requested_at`, unless `cancelled` first.
    """

    store_id: str
    file_id: str
    seq: int
    created_at: int
    requested_at: float
    attributes: Json | None
    chunking: Chunking
    outcome: str  # "completed" | "failed"
    error: tuple[str, str] | None  # (code, message) when outcome is "failed"
    usage_bytes: int
    cancelled: bool = False

    @property
    def key(self) -> str:
        """`store_id/file_id`, the record's persistence key."""
        return f"{self.store_id}/{self.file_id}"


@dataclass(slots=True)
class Batch:
    """A file batch; its counts come from the current attachments of its files."""

    id: str
    store_id: str
    seq: int
    created_at: int
    file_ids: list[str]
    cancelled: bool = False
