"""OpenAI vector-store file settings kbctl declares: chunking, metadata and their API limits.

Values only (reference §2.2, §2.3, §8); `kbctl.model` re-exports them. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ChunkingStrategy(StrEnum):
    """How OpenAI splits a file into chunks (reference §2.2)."""

    AUTO = "auto"  # today 800 tokens with 400 overlap; read back as static 800/400
    STATIC = "static"


# OpenAI vector-store file attributes (reference §2.3, §8): at most 16 keys per file, keys up to
# 64 characters, string values up to 512. kbctl keeps RESERVED_ATTRIBUTES of the 16 for its
# ownership marker (keys starting with RESERVED_ATTRIBUTE_PREFIX); the rest are the user's.
MAX_ATTRIBUTES = 16
RESERVED_ATTRIBUTES = 4
RESERVED_ATTRIBUTE_PREFIX = "kbctl_"
MAX_METADATA_KEYS = MAX_ATTRIBUTES - RESERVED_ATTRIBUTES
MAX_ATTRIBUTE_KEY_LENGTH = 64
MAX_ATTRIBUTE_STRING_LENGTH = 512
# Static chunking limits (reference §2.2): size 100-4096 tokens, overlap at most half the size.
MIN_CHUNK_SIZE_TOKENS = 100
MAX_CHUNK_SIZE_TOKENS = 4096
AUTO_CHUNK_SIZE_TOKENS = 800
AUTO_CHUNK_OVERLAP_TOKENS = 400

#: A metadata value: what the API accepts as an attribute value.
MetadataValue = str | int | float | bool
#: A document's metadata, sorted by key (a mapping's order means nothing).
Metadata = tuple[tuple[str, MetadataValue], ...]


@dataclass(frozen=True, slots=True)
class Chunking:
    """A chunking strategy; for STATIC both sizes are set (the manifest checks the limits)."""

    strategy: ChunkingStrategy = ChunkingStrategy.AUTO
    max_chunk_size_tokens: int | None = None
    chunk_overlap_tokens: int | None = None

    def effective(self) -> tuple[int, int]:
        """(max_chunk_size_tokens, chunk_overlap_tokens) the API applies: AUTO is 800/400."""
        if self.strategy is ChunkingStrategy.STATIC:
            assert self.max_chunk_size_tokens is not None
            assert self.chunk_overlap_tokens is not None
            return self.max_chunk_size_tokens, self.chunk_overlap_tokens
        return AUTO_CHUNK_SIZE_TOKENS, AUTO_CHUNK_OVERLAP_TOKENS
