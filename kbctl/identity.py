"""Identity without a state file: canonical content hashes and the ownership marker in names.

A document kbctl creates is named `<key> · kbctl:<project>/<environment> · <hash12>`, so the
live listing alone tells which documents are kbctl's, which key they hold and which content.
"""

from __future__ import annotations

import hashlib
import re

from kbctl.chunking import AUTO_CHUNK_OVERLAP_TOKENS, AUTO_CHUNK_SIZE_TOKENS, Chunking
from kbctl.model import DocType, Marker

SEPARATOR = " · "
HASH_CHARS = 12
_MARKER_RE = re.compile(
    r"^(?P<key>.+) · kbctl:(?P<project>[a-z0-9][a-z0-9-]*)/(?P<env>[A-Za-z0-9][A-Za-z0-9_.-]*)"
    r" · (?P<hash>[0-9a-f]{12})$",
    re.DOTALL,
)
_BOM = "\ufeff"


def canonical_text(text: str) -> bytes:
    """Text as kbctl hashes and uploads it: UTF-8, LF line ends, no BOM."""
    if text.startswith(_BOM):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")


def canonical_text_bytes(raw: bytes) -> bytes:
    """Canonical form of a UTF-8 text file's bytes. Raises UnicodeDecodeError if not UTF-8."""
    return canonical_text(raw.decode("utf-8"))


def content_hash(doc_type: DocType, content: bytes) -> str:
    """sha256 (hex) of the document type and its canonical bytes."""
    digest = hashlib.sha256()
    digest.update(doc_type.value.encode("ascii"))
    digest.update(b"\0")
    digest.update(content)
    return digest.hexdigest()


def document_name(key: str, project: str, environment: str, content_hash_hex: str) -> str:
    """The name kbctl gives a document it creates."""
    return (
        f"{key}{SEPARATOR}kbctl:{project}/{environment}{SEPARATOR}{content_hash_hex[:HASH_CHARS]}"
    )


def parse_marker(name: str) -> Marker | None:
    """Read kbctl's marker back from a document name; None when the name carries none."""
    match = _MARKER_RE.match(name)
    if match is None:
        return None
    return Marker(
        key=match["key"], project=match["project"], environment=match["env"], hash12=match["hash"]
    )


def owned(marker: Marker | None, project: str, environment: str) -> Marker | None:
    """The marker when it says this project and environment, else None.

    The one rule of ownership: only a document whose marker names the project and environment
    being applied is kbctl's to change or delete; every other document is left alone.
    """
    if marker is None or (marker.project, marker.environment) != (project, environment):
        return None
    return marker


def owned_name(name: str, project: str, environment: str) -> Marker | None:
    """`owned` for a document name (its marker parsed first)."""
    return owned(parse_marker(name), project, environment)


def identity_hash(content_hash_hex: str, chunking: Chunking | None) -> str:
    """The hash a document's marker carries: its content hash, or, with a chunking other than
    the default (OpenAI), a hash of both, since new chunks need a new attachment like new content.
    """
    if chunking is None or chunking.effective() == (
        AUTO_CHUNK_SIZE_TOKENS,
        AUTO_CHUNK_OVERLAP_TOKENS,
    ):
        return content_hash_hex
    size, overlap = chunking.effective()
    return hashlib.sha256(f"{content_hash_hex}|static|{size}|{overlap}".encode()).hexdigest()
