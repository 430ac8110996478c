"""A corrupt, missing or foreign snapshot is refused with a clear error, touching nothing.

Every refusal happens before kbctl opens a connection: the workspace sees no request at all,
and the snapshot folder is left byte for byte as it was.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kbctl.snapshots.record import Snapshot
from tests.snapshots.kit import Bench, text_of, tree_digest


def _history(bench: Bench) -> tuple[Snapshot, Snapshot]:
    """apply v1, apply v2 in staging (and v2 in production); the v1 after and v2 before."""
    bench.manifest({"a": text_of("alpha v1"), "b": text_of("bravo v1")})
    _, first = bench.apply()
    bench.manifest({"a": text_of("alpha v2")})
    _, second = bench.apply()
    bench.apply("production")
    assert first.after_snapshot is not None and second.before_snapshot is not None
    return first.after_snapshot, second.before_snapshot


def _path(bench: Bench, snapshot: Snapshot) -> Path:
    return bench.store.root / snapshot.environment / snapshot.file_name


def _refused(bench: Bench, ref: str, *expected: str) -> None:
    calls = bench.world.total_calls
    world = bench.world_digest()
    files = tree_digest(bench.store.root)
    out = bench.run("rollback", "-e", "staging", "--to", ref, "--auto-approve")
    assert out.exit_code == 1, out.output
    first = out.output.splitlines()[0]
    assert first.startswith("Error: "), out.output
    for text in expected:
        assert text in out.output, out.output
    assert "Hint:" in out.output or "Looked in" in out.output
    assert bench.world.total_calls == calls  # not a single request
    assert bench.world_digest() == world
    assert tree_digest(bench.store.root) == files


def test_a_snapshot_of_another_environment_is_refused(bench: Bench) -> None:
    _history(bench)
    production = bench.store.snapshots("production")[-1]
    _refused(bench, production.id, "belongs to environment 'production', not 'staging'")


def test_a_foreign_snapshot_copied_into_the_folder_is_refused(bench: Bench) -> None:
    _history(bench)
    production = bench.store.snapshots("production")[-1]
    source = _path(bench, production)
    shutil.copy(source, bench.store.root / "staging" / source.name)
    shutil.rmtree(bench.store.root / "production")
    _refused(bench, production.id, "is in the wrong folder", "records environment 'production'")


def _edit(bench: Bench, snapshot: Snapshot, change: Callable[[dict], None]) -> None:
    path = _path(bench, snapshot)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def test_an_unknown_format_version_is_refused(bench: Bench) -> None:
    target, _ = _history(bench)
    _edit(bench, target, lambda d: d.update(format_version=7))
    _refused(
        bench, target.id, "has an unknown format version 7", "reads snapshot format versions 1"
    )


def test_a_truncated_file_is_refused(bench: Bench) -> None:
    target, _ = _history(bench)
    path = _path(bench, target)
    path.write_text(path.read_text()[:200])
    _refused(bench, target.id, "is corrupt", "not valid JSON")


def test_a_file_with_a_wrong_shape_is_refused(bench: Bench) -> None:
    target, _ = _history(bench)
    _edit(bench, target, lambda d: d["knowledge_base"][0].update(type="spreadsheet"))
    _refused(
        bench,
        target.id,
        "is corrupt",
        "snapshot.knowledge_base[0].type: expected one of text, url, file, folder, "
        "got 'spreadsheet'",
    )


def _blob_of(snapshot: Snapshot, key: str) -> str:
    entry = next(e for e in snapshot.knowledge_base or () if e.key == key)
    assert entry.blob is not None
    return entry.blob


def test_a_missing_blob_is_refused(bench: Bench) -> None:
    target, _ = _history(bench)
    bench.store.blob_path(_blob_of(target, "docs/b.md")).unlink()
    _refused(bench, target.id, "is missing", "state-snapshots/blobs")


def test_a_blob_whose_content_does_not_match_its_hash_is_refused(bench: Bench) -> None:
    target, _ = _history(bench)
    path = bench.store.blob_path(_blob_of(target, "docs/b.md"))
    path.write_bytes(gzip.compress(b"something else entirely", mtime=0))
    _refused(bench, target.id, "does not match its hash")


def test_a_blob_that_is_not_gzip_is_refused(bench: Bench) -> None:
    target, _ = _history(bench)
    bench.store.blob_path(_blob_of(target, "docs/a.md")).write_bytes(b"plain text, not gzip")
    _refused(bench, target.id, "is corrupt")


def test_a_recorded_hash_that_does_not_match_the_blob_is_refused(bench: Bench) -> None:
    target, _ = _history(bench)
    _edit(bench, target, lambda d: d["knowledge_base"][0].update(content_hash="0" * 64))
    _refused(bench, target.id, "does not match its hash")


def test_an_unknown_id_is_refused(bench: Bench) -> None:
    _history(bench)
    _refused(bench, "feedface", "No snapshot 'feedface'")


def test_previous_whose_before_snapshot_was_lost_is_refused(bench: Bench) -> None:
    _, before = _history(bench)
    _path(bench, before).unlink()
    _refused(bench, "previous", f"The 'before' snapshot of apply {before.id} is missing")


def test_a_snapshot_without_a_recorded_knowledge_base_is_refused(bench: Bench) -> None:
    target, _ = _history(bench)
    _edit(bench, target, lambda d: d.update(knowledge_base=None))
    _refused(bench, target.id, "does not record the agent's knowledge base")


@pytest.mark.parametrize("ref", ["previous", "ID"])
def test_the_same_checks_pass_on_an_untouched_history(bench: Bench, ref: str) -> None:
    target, _ = _history(bench)
    out = bench.run(
        "rollback", "-e", "staging", "--to", target.id if ref == "ID" else ref, "--auto-approve"
    )
    assert out.exit_code == 0, out.output


def test_previous_is_refused_when_a_newer_file_cannot_be_read(bench: Bench) -> None:
    _, newest_before = _history(bench)
    newest_after = bench.store.snapshots("staging")[0]
    _edit(bench, newest_after, lambda d: d.update(format_version=9))
    # Skipping it would silently go back one apply too far.
    _refused(bench, "previous", "Cannot tell which snapshot is 'previous'", newest_after.file_name)
    assert newest_before.id != newest_after.id
