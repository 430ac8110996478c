"""Blobs are written in parallel, durable with one fsync of their folder, before any record that
names them; a blob file already there is trusted by writers and verified by every reader."""

from __future__ import annotations

import gzip
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from kbctl.errors import SnapshotError
from kbctl.snapshots.blobs import Blobs, sha256_hex
from tests.snapshots.kit import Bench, snapshot_files, text_of


class Fsyncs:
    """Counts fsyncs of files and of folders (the real fsync still runs)."""

    def __init__(self, real: Callable[[int], None]) -> None:
        self.real = real
        self.files = 0
        self.folders = 0

    def __call__(self, fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            self.folders += 1
        else:
            self.files += 1
        self.real(fd)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Fsyncs:
    counter = Fsyncs(os.fsync)
    monkeypatch.setattr(os, "fsync", counter)
    return counter


def test_many_blobs_cost_one_folder_fsync(tmp_path: Path, fsyncs: Fsyncs) -> None:
    blobs = Blobs(tmp_path / "blobs")
    contents = [text_of(f"doc {n}").encode() for n in range(40)]
    digests = blobs.put_many([*contents, contents[0]])  # a repeat is stored once
    assert digests == [sha256_hex(c) for c in [*contents, contents[0]]]
    assert (fsyncs.files, fsyncs.folders) == (40, 0)
    blobs.flush()
    assert (fsyncs.files, fsyncs.folders) == (40, 1)
    for content, digest in zip(contents, digests, strict=False):
        assert blobs.read(digest) == content
        assert gzip.decompress(blobs.path(digest).read_bytes()) == content
    blobs.flush()  # nothing new: no second folder fsync
    assert fsyncs.folders == 1


def test_staged_blobs_are_written_in_the_background_and_waited_for(tmp_path: Path) -> None:
    blobs = Blobs(tmp_path / "blobs")
    content = text_of("uploaded").encode()
    blobs.stage(content)
    assert blobs.put(content) == sha256_hex(content)  # waits for the staged write
    assert blobs.read(sha256_hex(content)) == content


def test_an_existing_blob_is_trusted_by_writers_and_refused_by_readers(tmp_path: Path) -> None:
    content = text_of("old").encode()
    digest = sha256_hex(content)
    folder = tmp_path / "blobs"
    folder.mkdir()
    (folder / f"{digest}.gz").write_bytes(b"damaged")
    blobs = Blobs(folder)
    assert blobs.put(content) == digest  # no read of the 10,000 blobs a large apply names
    with pytest.raises(SnapshotError, match="is corrupt"):
        blobs.read(digest)


def test_an_apply_writes_every_blob_before_the_record_naming_it(
    bench: Bench, fsyncs: Fsyncs
) -> None:
    docs = {f"d{n}": text_of(f"doc {n}") for n in range(12)}
    bench.manifest(docs, url=None)
    result, _ = bench.apply()
    assert len(result.created) == 13
    after = bench.store.load(str(snapshot_files(bench.store)[-1]))
    blobs = {e.blob for e in after.knowledge_base or () if e.blob}
    assert len(blobs) == 13
    for digest in blobs:
        bench.store.read_blob(digest)
    # Every file once (13 blobs, 2 records); folders: the records' twice, the blobs' once
    # (before the "after" record, the first to name them), not once per blob.
    assert (fsyncs.files, fsyncs.folders) == (13 + 2, 3)
