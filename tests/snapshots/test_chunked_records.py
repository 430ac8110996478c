"""Chunked records (`format_version` 3): a large knowledge base is stored as content-addressed
chunks in the blob folder, so a record of a small change writes a few new chunks, whatever the
history, and reads back whole through `snapshots show`, `diff` and rollback; a missing or
damaged chunk is refused with a clear error naming the record and the blob.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from kbctl.errors import SnapshotError
from kbctl.model import DocType, RagSettings, UsageMode
from kbctl.snapshots import codec
from kbctl.snapshots.record import Snapshot, SnapshotAgent, SnapshotEntry, SnapshotKind
from kbctl.snapshots.store import SnapshotStore
from tests.snapshots.kit import Bench, snapshot_files, text_of
from tests.snapshots.old_formats import as_delta

DOCS = 200
#: Knowledge bases over this many entries are chunked here (kbctl's default is 256).
CHUNKED_ABOVE = 64
#: The issue's bound, 1 MB for a 1 % change of 10,000 documents, scaled to DOCS documents.
BOUND = 1_000_000 * DOCS // 10_000


def _docs(version: dict[int, str] | None = None) -> dict[str, str]:
    changed = version or {}
    return {f"d{n:03}": text_of(f"doc {n} {changed.get(n, 'v1')}", 600) for n in range(DOCS)}


def _blobs(bench: Bench) -> dict[str, int]:
    folder = bench.store.root / "blobs"
    return {p.name: p.stat().st_size for p in folder.iterdir() if not p.name.startswith(".")}


def _is_chunk(path: Path) -> bool:
    return gzip.decompress(path.read_bytes()).startswith(b"[")


def _record(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def _chunks_of(path: Path) -> list[str]:
    field = _record(path)["knowledge_base_chunks"]
    assert isinstance(field, dict)
    return [str(c["blob"]) for c in field["chunks"]]


def _two_runs(bench: Bench) -> tuple[Path, Path]:
    """A large knowledge base applied, then 1 % of it replaced: the two "after" records."""
    bench.store = SnapshotStore(bench.store.root, chunked_above=CHUNKED_ABOVE)
    bench.manifest(_docs(), url=None)
    first, _ = bench.apply()
    assert len(first.created) == DOCS + 1  # and the rules text
    bench.manifest(_docs({3: "v2", 150: "v2"}), url=None)
    second, _ = bench.apply()
    assert len(second.created) == 2 and len(second.deleted) == 2
    files = snapshot_files(bench.store)
    return files[1], files[3]


def test_a_small_change_writes_a_few_chunks_and_every_record_reads_back(bench: Bench) -> None:
    bench.store = SnapshotStore(bench.store.root, chunked_above=CHUNKED_ABOVE)
    bench.manifest(_docs(), url=None)
    bench.apply()
    first_after = snapshot_files(bench.store)[1]
    chunks = _chunks_of(first_after)
    assert 5 <= len(chunks) <= 40  # about one entry in 16 ends a chunk
    seen = _blobs(bench)

    bench.manifest(_docs({3: "v2", 150: "v2"}), url=None)  # 1 % of the documents
    _, hook = bench.apply()
    before, after = (bench.store.root / "staging" / s.file_name for s, _ in hook.written)
    new = {name: size for name, size in _blobs(bench).items() if name not in seen}
    folder = bench.store.root / "blobs"
    new_chunks = [name for name in new if _is_chunk(folder / name)]
    assert len(new) - len(new_chunks) == 2  # the two new contents
    # Two entries replaced: the chunks holding them change, every other one is shared.
    assert 1 <= len(new_chunks) <= 4, new_chunks
    assert set(_chunks_of(before)) == set(chunks)  # "before" is the state "after" left
    assert len(set(_chunks_of(after)) - set(chunks)) <= 2
    written = before.stat().st_size + after.stat().st_size + sum(new[n] for n in new_chunks)
    assert written <= BOUND
    record = _record(after)
    assert record["format_version"] == 3 and "knowledge_base" not in record
    assert record["knowledge_base_chunks"]["documents"] == DOCS + 1  # type: ignore[index]

    # `snapshots show` prints the whole state, read from the chunks, as a full record.
    out = bench.run("snapshots", "show", str(record["id"]), "--format", "json")
    assert out.exit_code == 0, out.output
    shown = json.loads(out.stdout)
    assert shown["format_version"] == 1 and len(shown["knowledge_base"]) == DOCS + 1
    assert [e["id"] for e in shown["knowledge_base"]] == [e.id for e in bench.entries()]
    text = bench.run("snapshots", "show", str(record["id"]))
    assert f"Knowledge base ({DOCS + 1} documents)" in text.output
    assert re.search(r"Restorable +yes", text.output)


def test_diff_and_rollback_read_chunked_records(bench: Bench) -> None:
    first, second = _two_runs(bench)
    second_state = bench.kb_state()
    a, b = str(_record(first)["id"]), str(_record(second)["id"])
    out = bench.run("snapshots", "diff", a, b, "--format", "json")
    assert out.exit_code == 0, out.output
    changes = json.loads(out.stdout)["documents"]
    assert sorted((d["key"], d["change"]) for d in changes) == [
        ("docs/d003.md", "changed"),
        ("docs/d150.md", "changed"),
    ]
    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 0, out.output
    first_state = bench.kb_state()
    assert len(first_state) == DOCS + 1
    assert first_state ^ second_state == {
        s for s in second_state | first_state if s[0] in ("docs/d003.md", "docs/d150.md")
    }
    out = bench.run("rollback", "-e", "staging", "--to", b, "--auto-approve")
    assert out.exit_code == 0, out.output
    assert bench.kb_state() == second_state


def test_the_content_index_holds_what_chunked_records_hold(bench: Bench) -> None:
    _two_runs(bench)
    known = set(SnapshotStore(bench.store.root).content_index())
    assert len(known) == DOCS + 3  # every v1, the two v2, the rules text


def test_a_missing_chunk_is_a_clear_error_and_list_still_lists(bench: Bench) -> None:
    first, second = _two_runs(bench)
    record = _record(second)
    gone = sorted(set(_chunks_of(second)) - set(_chunks_of(first)))[0]  # only it names this one
    (bench.store.root / "blobs" / f"{gone}.gz").unlink()

    out = bench.run("snapshots", "show", str(record["id"]))
    assert out.exit_code == 1
    assert out.output.startswith(
        f"Error: Snapshot {second.name} cannot be read: its chunk blob {gone[:12]} is missing\n"
    )
    assert f"stores its knowledge base in chunks under blobs/; chunk {gone}" in out.output
    assert "Hint: Restore the blob folder from git" in out.output
    assert "Traceback" not in out.output
    out = bench.run("rollback", "-e", "staging", "--to", str(record["id"]), "--auto-approve")
    assert out.exit_code == 1 and "is missing" in out.output
    # The content index takes in what the other records hold (not the two new contents).
    assert len(SnapshotStore(bench.store.root).content_index()) == DOCS + 1
    # `list` reads no chunk: the record is listed from its own fields.
    listed = json.loads(bench.run("snapshots", "list", "-e", "staging", "--format", "json").stdout)
    (row,) = [r for r in listed if r["id"] == record["id"]]
    assert row["outcome"] == "applied" and row["documents"] == DOCS + 1


def test_a_damaged_chunk_is_refused(bench: Bench) -> None:
    _, second = _two_runs(bench)
    chunk = bench.store.root / "blobs" / f"{_chunks_of(second)[-1]}.gz"
    entries = json.loads(gzip.decompress(chunk.read_bytes()))
    entries[0]["usage_mode"] = "prompt"  # still a valid chunk: only its hash tells
    chunk.write_bytes(gzip.compress(json.dumps(entries).encode()))

    out = bench.run("snapshots", "show", str(_record(second)["id"]))
    assert out.exit_code == 1
    assert f"Error: Snapshot {second.name} cannot be read: its chunk blob " in out.output
    assert "is damaged" in out.output and "does not match its hash" in out.output
    assert "Hint:" in out.output and "Traceback" not in out.output


def test_a_record_whose_chunk_list_was_edited_is_refused(bench: Bench) -> None:
    _, second = _two_runs(bench)
    data = _record(second)
    field = data["knowledge_base_chunks"]
    assert isinstance(field, dict)
    field["chunks"] = field["chunks"][1:] + field["chunks"][:1]  # same chunks, another order
    second.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    out = bench.run("snapshots", "show", str(data["id"]))
    assert out.exit_code == 1
    assert f"Error: Snapshot {second.name} does not fit its chunks" in out.output
    assert "do not hash to the recorded sha256" in out.output


def test_a_delta_record_over_a_chunked_record_reads(bench: Bench) -> None:
    first, second = _two_runs(bench)
    as_delta(second, first)  # as an older kbctl could have left a folder, then extended
    data = _record(second)
    assert data["format_version"] == 2
    out = bench.run("snapshots", "show", str(data["id"]), "--format", "json")
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.stdout)["knowledge_base"]) == DOCS + 1


def test_the_format_one_reader_refuses_a_chunked_record(bench: Bench) -> None:
    """What an older kbctl does with a chunked record: it refuses it, never misreads it."""
    _, second = _two_runs(bench)
    with pytest.raises(SnapshotError) as caught:
        codec.loads(second.read_text(), second.name)
    assert caught.value.summary == f"Snapshot {second.name} has an unknown format version 3"


def test_apply_needs_no_chunk_of_older_records(bench: Bench) -> None:
    first, second = _two_runs(bench)
    older = set(_chunks_of(first)) - set(_chunks_of(second))
    assert older
    for blob in older:  # what only the first run's records name: no apply may need it
        (bench.store.root / "blobs" / f"{blob}.gz").unlink()
    bench.manifest(_docs({3: "v2", 150: "v2", 60: "v3"}), url=None)
    third, hook = bench.apply()
    assert len(third.created) == 1
    for snapshot, _ in hook.written:
        out = bench.run("snapshots", "show", snapshot.id)
        assert out.exit_code == 0 and re.search(r"Restorable +yes", out.output), out.output


def test_a_chunk_that_cannot_be_read_is_refused(bench: Bench) -> None:
    _, second = _two_runs(bench)
    chunk = bench.store.root / "blobs" / f"{_chunks_of(second)[0]}.gz"
    chunk.unlink()
    chunk.mkdir()  # a name that cannot be read as a file, even by root
    out = bench.run("snapshots", "show", str(_record(second)["id"]))
    assert out.exit_code == 1
    assert "is damaged" in out.output and "cannot be read" in out.output
    assert "Traceback" not in out.output


@pytest.mark.parametrize(("documents", "version"), [(0, 1), (256, 1), (257, 3), (3000, 3)])
def test_knowledge_bases_over_256_documents_are_chunked(
    tmp_path: Path, documents: int, version: int
) -> None:
    entries = tuple(
        SnapshotEntry(f"doc{n}", f"d{n}.md", DocType.TEXT, UsageMode.AUTO, f"d{n}.md", None, True)
        for n in range(documents)
    )
    draft = Snapshot(
        id="",
        environment="staging",
        project="demo",
        manifest="kb.yaml",
        kind=SnapshotKind.AFTER,
        created_at="2026-01-01T00:00:00Z",
        apply_id="run",
        seq=1,
        git_commit=None,
        operation="apply",
        agent=SnapshotAgent("agent_1", None, None),
        rag=RagSettings(),
        knowledge_base=entries,
        outcome="applied",
    )
    snapshot = replace(draft, id=codec.snapshot_id(draft))
    store = SnapshotStore(tmp_path)
    path = store.write(snapshot)
    assert _record(path)["format_version"] == version
    assert SnapshotStore(tmp_path).load(snapshot.id) == snapshot
