"""Identity without a state file: canonical content hashes and the ownership marker in names.

A document kbctl creates carries its marker in its name, so the live listing alone tells which
documents are kbctl's, which key they hold and which content:

- `<key> · kbctl:<project>/<environment> · <hash12>` — what kbctl writes: the project, the
  environment that uploaded it, the key and the content. Where environments share documents
  (ElevenLabs: one workspace holds every environment's agents) the project owns it and any of
  its environments may attach it as it is (`same_identity` ignores the environment); an
  unattached one is cleaned up by the environment its marker names;
- `<key> · kbctl:<project> · <hash12>` — read as a document the project shares, never written.
"""

from __future__ import annotations

import hashlib
import re

from kbctl.chunking import AUTO_CHUNK_OVERLAP_TOKENS, AUTO_CHUNK_SIZE_TOKENS, Chunking
from kbctl.model import DocType, Marker, ProviderKind

SEPARATOR = " · "
HASH_CHARS = 12
_MARKER_RE = re.compile(
    r"^(?P<key>.+) · kbctl:(?P<project>[a-z0-9][a-z0-9-]*)(?:/(?P<env>[A-Za-z0-9][A-Za-z0-9_.-]*))?"
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
    """The name of an environment's own document (OpenAI; ElevenLabs before sharing)."""
    return (
        f"{key}{SEPARATOR}kbctl:{project}/{environment}{SEPARATOR}{content_hash_hex[:HASH_CHARS]}"
    )


def shared_document_name(key: str, project: str, content_hash_hex: str) -> str:
    """The name of a document the project owns, shared by its environments (ElevenLabs)."""
    return f"{key}{SEPARATOR}kbctl:{project}{SEPARATOR}{content_hash_hex[:HASH_CHARS]}"


def shares_documents(provider: ProviderKind) -> bool:
    """Whether a provider's environments share documents: ElevenLabs does (one workspace holds
    every environment's agents); an OpenAI vector store is its own namespace and does not."""
    return provider is ProviderKind.ELEVENLABS


def target_document_name(
    provider: ProviderKind, key: str, project: str, environment: str, content_hash_hex: str
) -> str:
    """The name kbctl gives a document it creates for a target of `provider`: every provider's
    names carry the environment that creates it, shared or not (`shares_documents` decides who
    may attach it, not how it is named)."""
    _ = provider
    return document_name(key, project, environment, content_hash_hex)


def same_identity(name: str, other: str) -> bool:
    """Whether two names carry markers for the same project, key and content (the environment
    of an older marker aside): a document named either way needs no rename."""
    if name == other:
        return True
    a, b = parse_marker(name), parse_marker(other)
    return (
        a is not None
        and b is not None
        and (a.key, a.project, a.hash12) == (b.key, b.project, b.hash12)
    )


def parse_marker(name: str) -> Marker | None:
    """Read kbctl's marker back from a document name; None when the name carries none."""
    match = _MARKER_RE.match(name)
    if match is None:
        return None
    return Marker(
        key=match["key"], project=match["project"], environment=match["env"], hash12=match["hash"]
    )


def owned(
    marker: Marker | None, project: str, environment: str, *, shared: bool = False
) -> Marker | None:
    """The marker when the document is this project's to manage for `environment`, else None.

    The one rule of ownership: a document whose marker names the project alone (shared) or the
    project and this environment is kbctl's to attach, change or delete; with `shared` (a
    provider whose environments share documents) so is one naming another environment of the
    project (shared from there). Every other document is left alone. Deleting a shared
    document still needs nobody else to use it: the executor asks before each delete.
    """
    if marker is None or marker.project != project:
        return None
    if marker.environment is None or shared or marker.environment == environment:
        return marker
    return None


def owned_name(name: str, project: str, environment: str, *, shared: bool = False) -> Marker | None:
    """`owned` for a document name (its marker parsed first)."""
    return owned(parse_marker(name), project, environment, shared=shared)


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
