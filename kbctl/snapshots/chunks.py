"""Chunked records: a large knowledge base stored as content-addressed chunks of entries.

A record of a large knowledge base (`format_version` 3, same file name, same canonical JSON)
keeps every field of a full record but replaces `knowledge_base` with

    "knowledge_base_chunks": {
      "documents": 10000,            # entries once rebuilt
      "sha256": "<sha256 of the rebuilt knowledge_base>",   # as a delta record's
      "chunks": [{"blob": "<sha256>", "count": 16}, ...]
    }

Each chunk is a blob of the shared `blobs/` folder (gzip, named by the sha256 of its bytes,
written once): the compact canonical JSON array of consecutive entries. Chunk boundaries are
content-defined: an entry ends a chunk when the sha256 of its id has its low four bits zero
(one entry in 16), or when the chunk holds `MAX_CHUNK` entries. An insertion or a removal
therefore changes only the chunk around it, and a record of a small change shares every other
chunk with the records before it: its new files are a few chunks, whatever the history.

Pure: no files (the store writes the blobs, `chain` reads them). Owns the chunking, the
field's JSON and the checks of a rebuilt knowledge base; must not decide when to chunk.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kbctl.errors import SnapshotError
from kbctl.jsonread import JsonObj
from kbctl.snapshots.codec import TextMemo, entries_text, entry_from, record_reader
from kbctl.snapshots.record import SnapshotEntry

CHUNKED_FORMAT_VERSION = 3
FIELD = "knowledge_base_chunks"
#: Knowledge bases with more entries than this are written chunked (smaller ones in full,
#: readable in a git diff: 256 entries are about 125 kB).
CHUNKED_ABOVE = 256
#: An entry ends a chunk when sha256(id) & BOUNDARY_MASK == 0: chunks of 16 entries on average.
BOUNDARY_MASK = 0x0F
#: The most entries a chunk holds (a run of ids without a boundary is cut here).
MAX_CHUNK = 64
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """One chunk of a record: its blob and how many entries it holds."""

    blob: str
    count: int


@dataclass(frozen=True, slots=True)
class Chunked:
    """A knowledge base stored as chunks: the number of entries, their sha256, the chunks."""

    documents: int
    sha256: str
    chunks: tuple[ChunkRef, ...]


@dataclass(frozen=True, slots=True)
class Pieces:
    """A knowledge base cut into chunks, before their blobs are named: each chunk's bytes and
    count, and the sha256 of the whole (computed from the same bytes)."""

    documents: int
    sha256: str
    chunks: tuple[tuple[bytes, int], ...]

    def named(self, blobs: Sequence[str]) -> Chunked:
        """The `Chunked` these pieces make once stored as `blobs` (in order)."""
        refs = tuple(ChunkRef(b, n) for b, (_, n) in zip(blobs, self.chunks, strict=True))
        return Chunked(self.documents, self.sha256, refs)


def ends_chunk(entry_id: str, memo: dict[str, bool] | None = None) -> bool:
    """True when an entry with this id ends a chunk (a content-defined boundary)."""
    found = None if memo is None else memo.get(entry_id)
    if found is None:
        found = hashlib.sha256(entry_id.encode("utf-8")).digest()[-1] & BOUNDARY_MASK == 0
        if memo is not None:
            memo[entry_id] = found
    return found


def split(
    entries: Sequence[SnapshotEntry],
    texts: TextMemo | None = None,
    *,
    max_chunk: int = MAX_CHUNK,
    boundaries: dict[str, bool] | None = None,
) -> Pieces:
    """`entries` cut at content-defined boundaries; `texts` and `boundaries` remember each
    entry's JSON and whether its id ends a chunk (a run writes the same entries often)."""
    cuts: list[tuple[int, int]] = []
    start = 0
    for n, entry in enumerate(entries):
        if n + 1 - start >= max_chunk or ends_chunk(entry.id, boundaries):
            cuts.append((start, n + 1))
            start = n + 1
    if start < len(entries):
        cuts.append((start, len(entries)))
    whole = hashlib.sha256(b"[")
    chunks: list[tuple[bytes, int]] = []
    for i, (a, b) in enumerate(cuts):
        data = entries_text(entries[a:b], texts).encode("utf-8")
        whole.update((b"," if i else b"") + data[1:-1])
        chunks.append((data, b - a))
    whole.update(b"]")
    return Pieces(len(entries), whole.hexdigest(), tuple(chunks))


#: Entries already read, by their compact JSON (a chunk that changed still holds ~15 of them).
EntryMemo = dict[str, SnapshotEntry]
_DECODER = json.JSONDecoder()


def chunk_entries(
    data: bytes, source: str, memo: EntryMemo | None = None
) -> tuple[SnapshotEntry, ...]:
    """The entries of one chunk's bytes (already verified against its name), read strictly;
    `memo` gives an entry whose compact JSON was read before (the same object: records that
    share it share it) without reading it again.

    Raises:
        SnapshotError: not a JSON array of entries.
    """
    reader = record_reader(source)
    try:
        text = data.decode("utf-8")
        pieces = _pieces(text)
        if pieces is None:  # not compact as kbctl writes chunks: read it all the same
            raw = json.loads(text)
            if not isinstance(raw, list):
                raise reader.fail("a chunk is not a JSON array of entries")
            pieces = [(item, None) for item in raw]
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise reader.fail(f"a chunk is not valid JSON: {err}") from None
    out: list[SnapshotEntry] = []
    for n, (raw, key) in enumerate(pieces):
        entry = None if memo is None or key is None else memo.get(key)
        if entry is None:
            entry = entry_from(reader.root(raw, f"chunk[{n}]"))
            if memo is not None and key is not None:
                memo[key] = entry
        out.append(entry)
    return tuple(out)


def _pieces(text: str) -> list[tuple[object, str | None]] | None:
    """Each entry of a compact JSON array with its own text, or None when `text` is not
    written that way (no whitespace between items)."""
    if text == "[]":
        return []
    if not text.startswith("[") or not text.endswith("]"):
        return None
    out: list[tuple[object, str | None]] = []
    at = 1
    while True:
        try:
            raw, end = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError:
            return None
        out.append((raw, text[at:end]))
        if end == len(text) - 1:
            return out
        if text[end] != ",":
            return None
        at = end + 1


def joined(
    chunked: Chunked, parts: Iterable[tuple[bytes, tuple[SnapshotEntry, ...]]], source: str
) -> tuple[SnapshotEntry, ...]:
    """The knowledge base of `chunked` from its chunks' (bytes, entries), in order, checked
    against each chunk's count, the number of entries and the sha256.

    Raises:
        SnapshotError: the chunks do not make the knowledge base the record describes.
    """
    out: list[SnapshotEntry] = []
    whole = hashlib.sha256(b"[")
    for i, (ref, (data, entries)) in enumerate(zip(chunked.chunks, parts, strict=True)):
        if len(entries) != ref.count:
            raise _mismatch(
                source,
                f"chunk {ref.blob[:12]} holds {len(entries)} entries, not the {ref.count} recorded",
            )
        whole.update((b"," if i else b"") + data[1:-1])
        out.extend(entries)
    whole.update(b"]")
    if len(out) != chunked.documents:
        raise _mismatch(source, f"its chunks hold {len(out)} entries, not {chunked.documents}")
    if whole.hexdigest() != chunked.sha256:
        raise _mismatch(source, "its chunks do not hash to the recorded sha256")
    return tuple(out)


def _mismatch(source: str, problem: str) -> SnapshotError:
    return SnapshotError(
        f"Snapshot {source} does not fit its chunks",
        detail=f"The record stores its knowledge base in chunks under blobs/, and {problem}: "
        "the record was changed after it was written.",
        hint="Restore the file from git, or pick another snapshot with `kbctl snapshots list`.",
    )


# --------------------------------------------------------------------------------------------
# JSON


def chunked_to_json(chunked: Chunked) -> dict[str, object]:
    """The `knowledge_base_chunks` field."""
    return {
        "documents": chunked.documents,
        "sha256": chunked.sha256,
        "chunks": [{"blob": c.blob, "count": c.count} for c in chunked.chunks],
    }


def chunked_from(data: JsonObj) -> Chunked:
    """The `knowledge_base_chunks` field, read strictly."""
    fail = data.reader.fail
    sha = data.text("sha256")
    if not _HEX64.fullmatch(sha):
        raise fail(f"{data.at('sha256')}: expected 64 lowercase hex digits")
    documents = data.integer("documents")
    if documents < 0:
        raise fail(f"{data.at('documents')}: expected 0 or more")
    refs: list[ChunkRef] = []
    for item in data.objs("chunks"):
        blob, count = item.text("blob"), item.integer("count")
        if not _HEX64.fullmatch(blob):
            raise fail(f"{item.at('blob')}: expected 64 lowercase hex digits")
        if count < 1:
            raise fail(f"{item.at('count')}: expected an integer ≥ 1, got {count}")
        refs.append(ChunkRef(blob, count))
    return Chunked(documents, sha, tuple(refs))
