"""Snapshots written by apply, end to end against the emulator: content, format, blobs, listing."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import replace

import pytest

from kbctl.errors import IndexGateError
from kbctl.identity import content_hash
from kbctl.model import DocType
from kbctl.snapshots.codec import loads
from kbctl.snapshots.record import SnapshotKind
from kbctl.snapshots.store import SnapshotStore
from tests.snapshots.kit import STAGING_AGENT, Bench, snapshot_files, text_of

FILE_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}\.json$")


def test_apply_writes_a_before_and_an_after_snapshot(bench: Bench) -> None:
    bench.manifest({"a": text_of("a"), "b": text_of("b")})
    result, hook = bench.apply()
    files = snapshot_files(bench.store)
    assert len(files) == 2
    assert all(FILE_NAME.match(p.name) for p in files)
    before, after = (loads(p.read_text(), str(p)) for p in files)
    assert (before.kind, after.kind) == (SnapshotKind.BEFORE, SnapshotKind.AFTER)
    assert before.apply_id == after.apply_id == before.id
    assert before.outcome == "pending" and before.knowledge_base == ()
    assert after.outcome == "applied"
    assert after.agent.id == STAGING_AGENT and after.agent.version_id is not None
    assert after.git_commit == "c0ffee" * 6 + "abcd"
    assert after.environment == "staging" and after.project == "demo"
    assert set(after.done.created) == {d.id for d in result.created}
    assert after.rag.max_retrieved_rag_chunks_count == 10
    assert after.rag.embedding_model == "multilingual_e5_large_instruct"
    kb = {e.key: e for e in after.knowledge_base or ()}
    assert set(kb) == {"docs/a.md", "docs/b.md", "rules", "https://example.com/faq"}
    live = {e.id: e for e in bench.entries()}
    for entry in kb.values():
        assert entry.managed
        assert live[entry.id].usage_mode == entry.usage_mode.value
        assert live[entry.id].hash12 == (entry.content_hash or "")[:12]
    assert kb["rules"].usage_mode.value == "prompt"
    assert kb["https://example.com/faq"].url == "https://example.com/faq"
    a = kb["docs/a.md"]
    assert a.blob is not None
    assert bench.store.read_blob(a.blob) == text_of("a").encode()
    assert a.content_hash == content_hash(DocType.TEXT, text_of("a").encode())
    assert [s.id for s, _ in hook.written] == [before.id, after.id]


def test_snapshot_files_are_canonical_json(bench: Bench) -> None:
    bench.manifest({"a": text_of("a")})
    bench.apply()
    for path in snapshot_files(bench.store):
        text = path.read_text()
        assert text.endswith("}\n")
        assert (
            text
            == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        )
        data = json.loads(text)
        assert data["format_version"] == 1
        for field in ("id", "environment", "project", "manifest", "kind", "created_at"):
            assert isinstance(data[field], str)
        assert data["created_at"].endswith("Z")
        assert "sk_test" not in text  # never the API key


def test_blobs_are_content_addressed_gzip_and_deduplicated(bench: Bench) -> None:
    bench.manifest({"a": text_of("a"), "b": text_of("b")})
    bench.apply()
    blobs = bench.store.root / "blobs"
    first = {p.name: p.stat().st_mtime_ns for p in blobs.iterdir()}
    assert len(first) == 3  # a, b and the inline rules text; the URL needs none
    for path in blobs.iterdir():
        packed = path.read_bytes()
        assert packed[:2] == b"\x1f\x8b"
        data = gzip.decompress(packed)
        assert path.name == hashlib.sha256(data).hexdigest() + ".gz"
        assert len(packed) < len(data) or len(data) < 100

    bench.manifest({"a": text_of("a2"), "b": text_of("b")})
    bench.apply()
    second = {p.name: p.stat().st_mtime_ns for p in blobs.iterdir()}
    assert len(second) == 4  # only the new content of a was added
    for name, mtime in first.items():
        assert second[name] == mtime  # never rewritten

    bench.apply("production")  # same contents in another environment: shared blobs
    assert len(list(blobs.iterdir())) == 4
    assert len(snapshot_files(bench.store, "production")) == 2


def test_a_second_apply_reuses_earlier_blobs_for_documents_it_keeps(bench: Bench) -> None:
    bench.manifest({"a": text_of("a"), "b": text_of("b")})
    bench.apply()
    before_calls = bench.world.calls["GET /v1/convai/knowledge-base/{documentation_id}/content"]
    bench.manifest({"a": text_of("a"), "b": text_of("b2")})
    _, hook = bench.apply()
    after = hook.after_snapshot
    assert after is not None
    kb = {e.key: e for e in after.knowledge_base or ()}
    assert kb["docs/a.md"].blob is not None and kb["docs/b.md"].blob is not None
    # Every content came from the manifest or an earlier blob: no content downloads.
    assert (
        bench.world.calls["GET /v1/convai/knowledge-base/{documentation_id}/content"]
        == before_calls
    )


def test_content_of_documents_no_longer_declared_is_fetched_for_the_snapshot(
    bench: Bench,
) -> None:
    bench.manifest({"a": text_of("a"), "b": text_of("b")})
    bench.apply()
    for blob in (bench.store.root / "blobs").iterdir():
        blob.unlink()  # lost blobs: the hook must read the content from the API again
    for path in snapshot_files(bench.store):
        path.unlink()
    bench.store = SnapshotStore(bench.store.root)  # the next run is a new process
    bench.manifest({"a": text_of("a")})
    _, hook = bench.apply()
    before = hook.before_snapshot
    assert before is not None
    kb = {e.key: e for e in before.knowledge_base or ()}
    b = kb["docs/b.md"]
    assert b.blob is not None and bench.store.read_blob(b.blob) == text_of("b").encode()
    assert bench.world.calls["GET /v1/convai/knowledge-base/{documentation_id}/content"] == 1


def test_list_is_newest_first_and_ignores_leftover_temp_files(bench: Bench) -> None:
    bench.manifest({"a": text_of("a")})
    bench.apply()
    bench.manifest({"a": text_of("a2")})
    bench.apply()
    folder = bench.store.root / "staging"
    # What a crash in the middle of a write leaves behind: a temp file, never a half file.
    (folder / ".20260101T000100Z-deadbeef.json.4242.tmp").write_text('{"format_vers')
    result = bench.run("snapshots", "list", "-e", "staging", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 4
    assert [r["kind"] for r in rows] == ["after", "before", "after", "before"]
    times = [r["time"] for r in rows]
    assert times == sorted(times, reverse=True)
    assert all(r["documents"] is not None for r in rows)
    assert rows[0]["outcome"] == "applied" and rows[1]["outcome"] == "pending"
    assert rows[0]["commit"] == "c0ffee" * 6 + "abcd"

    text = bench.run("snapshots", "list", "-e", "staging")
    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert lines[0].split()[:3] == ["ID", "TIME", "KIND"]
    assert lines[1].split()[0] == rows[0]["id"]
    assert "deadbeef" not in text.output


def test_list_shows_an_unreadable_file_instead_of_hiding_it(bench: Bench) -> None:
    bench.manifest({"a": text_of("a")})
    bench.apply()
    (bench.store.root / "staging" / "20260102T000000Z-0badf00d.json").write_text("{not json")
    rows = json.loads(bench.run("snapshots", "list", "-e", "staging", "--format", "json").stdout)
    assert rows[0]["id"] == "0badf00d"
    assert rows[0]["outcome"].startswith("unreadable: not valid JSON")


def test_list_of_an_environment_without_snapshots(bench: Bench) -> None:
    result = bench.run("snapshots", "list", "-e", "staging")
    assert result.exit_code == 0
    assert "No snapshots for environment 'staging'" in result.output


def test_show_prints_the_snapshot(bench: Bench) -> None:
    bench.manifest({"a": text_of("a")})
    _, hook = bench.apply()
    after = hook.after_snapshot
    assert after is not None
    text = bench.run("snapshots", "show", after.id)
    assert text.exit_code == 0, text.output
    for expected in (after.id, "applied", "docs/a.md", "rules", "prompt", STAGING_AGENT, "yes"):
        assert expected in text.output
    as_json = bench.run("snapshots", "show", after.id, "--format", "json")
    path = next(p for p in snapshot_files(bench.store) if after.id in p.name)
    assert as_json.output == path.read_text()


def test_show_of_an_unknown_id_fails_clearly(bench: Bench) -> None:
    result = bench.run("snapshots", "show", "12345678")
    assert result.exit_code == 1
    assert "No snapshot '12345678'" in result.output


def test_a_run_stopped_at_the_index_gate_records_what_it_did(bench: Bench) -> None:
    bench.manifest({"a": text_of("a")})
    bench.apply()
    bench.world.config = replace(bench.world.config, fail_index_containing=("POISON",))
    bench.manifest({"a": text_of("a"), "b": text_of("POISON")})
    with pytest.raises(IndexGateError):
        bench.apply()
    files = snapshot_files(bench.store)
    assert len(files) == 4  # no checkpoint left next to the final "after"
    after = bench.store.load(str(files[-1]))
    assert after.kind is SnapshotKind.AFTER and after.outcome == "index_gate"
    assert len(after.done.created) == 1
    assert after.done.deleted == after.done.created  # the gate cleaned up what it created
    assert not after.done.agent_updated
    assert {e.key for e in after.knowledge_base or ()} == {
        "docs/a.md",
        "rules",
        "https://example.com/faq",
    }


def test_an_apply_with_nothing_to_do_is_recorded_as_no_changes(bench: Bench) -> None:
    bench.manifest({"a": text_of("a")})
    bench.apply()
    _, hook = bench.apply()
    after = hook.after_snapshot
    assert after is not None and after.outcome == "no_changes"
    assert not after.changed
