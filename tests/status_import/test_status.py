"""`kbctl status` end to end: documents, index status, quota use and drift in one line."""

from __future__ import annotations

import json

from tests.snapshots.kit import STAGING_AGENT, Bench, text_of

INDEX_READ = "GET /v1/convai/knowledge-base/{documentation_id}/rag-index"
BATCH_READ = "POST /v1/convai/knowledge-base/rag-index"


def test_status_after_apply_shows_every_document_and_no_drift(bench: Bench) -> None:
    bench.manifest({"a": text_of("a"), "b": text_of("b")})
    bench.apply()
    reads = bench.world.calls[INDEX_READ]
    batches = bench.world.calls[BATCH_READ]
    writes = bench.write_calls()

    out = bench.run("status", "-e", "staging", "--detailed-exitcode")

    assert out.exit_code == 0, out.output
    text = out.output
    for expected in (
        STAGING_AGENT,
        "docs/a.md",
        "docs/b.md",
        "rules",
        "https://example.com/faq",
        "succeeded",
        "prompt",
        "managed",
        "multilingual_e5_large_instruct",
        "RAG quota:",
        "no drift: the agent matches the manifest",
    ):
        assert expected in text, text
    # One batch read for every attached document (⌈N/100⌉), no read per document.
    assert bench.world.calls[BATCH_READ] == batches + 1
    assert bench.world.calls[INDEX_READ] == reads
    # Status never changes anything (the batch read is a POST, with create_if_missing false).
    assert bench.write_calls() - 1 == writes


def test_status_json_and_unmanaged_documents(bench: Bench) -> None:
    bench.manifest({"a": text_of("a")}, url=None)
    bench.apply()
    hand = bench.world.add_document("text", "Price list (by hand)", text_of("prices"))
    entries = [
        {"type": e.type, "name": e.name, "id": e.id, "usage_mode": e.usage_mode}
        for e in bench.entries()
    ]
    bench.world.set_knowledge_base(
        STAGING_AGENT,
        [
            *entries,
            {"type": "text", "name": "Price list (by hand)", "id": hand, "usage_mode": "auto"},
        ],
    )

    out = bench.run("status", "-e", "staging", "--format", "json")

    assert out.exit_code == 0, out.output
    (agent,) = json.loads(out.stdout)["agents"]
    docs = {d["id"]: d for d in agent["documents"]}
    assert docs[hand]["managed"] is False
    assert docs[hand]["index"] == "not_indexed"  # attached by hand, never indexed
    assert docs[hand]["size_bytes"] == len(text_of("prices"))
    managed = [d for d in agent["documents"] if d["managed"]]
    assert {d["key"] for d in managed} == {"docs/a.md", "rules"}
    assert {d["index"] for d in managed if d["usage_mode"] == "auto"} == {"succeeded"}
    assert agent["quota"]["used_bytes"] > 0
    assert agent["quota"]["max_bytes"] == bench.world.config.rag_quota_bytes
    assert agent["drift"]["has_changes"] is False  # unmanaged documents are not drift


def test_status_reports_drift_in_one_line_and_exit_code_2(bench: Bench) -> None:
    bench.manifest({"a": text_of("a"), "b": text_of("b")})
    bench.apply()
    bench.manifest(
        {"a": text_of("a changed"), "c": text_of("c")}, rag="max_retrieved_rag_chunks_count: 7"
    )

    out = bench.run("status", "-e", "staging", "--detailed-exitcode")

    assert out.exit_code == 2, out.output
    drift = [line for line in out.output.splitlines() if line.startswith("drift:")]
    assert drift == [
        "drift: 1 to create, 1 to replace, 1 to delete, 1 RAG setting(s) differ "
        "(kbctl plan -e staging shows the details)"
    ]
    assert bench.run("status", "-e", "staging").exit_code == 0  # without the flag


def test_status_shows_orphans_and_indexing_in_progress(bench: Bench) -> None:
    bench.manifest({"a": text_of("a")}, url=None)
    bench.apply()
    orphan = bench.world.add_document(
        "text", "docs/old.md · kbctl:demo/staging · 0123456789ab", text_of("old")
    )
    hand = bench.world.add_document("text", "Hand-made", text_of("hand"))
    entries = [
        {"type": e.type, "name": e.name, "id": e.id, "usage_mode": e.usage_mode}
        for e in bench.entries()
    ]
    bench.world.set_knowledge_base(
        STAGING_AGENT, [*entries, {"type": "text", "name": "Hand-made", "id": hand}]
    )
    bench.world.compute_index(hand, "multilingual_e5_large_instruct")
    bench.clock.advance(1)
    out = bench.run("status", "-e", "staging", "--format", "json")
    (agent,) = json.loads(out.stdout)["agents"]
    docs = {d["id"]: d for d in agent["documents"]}
    assert docs[hand]["index"] == "processing"
    assert 0 < docs[hand]["index_progress"] < 100
    text = bench.run("status", "-e", "staging").output
    assert "processing 33%" in text
    assert docs[orphan]["attached"] is False and docs[orphan]["managed"] is True
    assert docs[orphan]["key"] == "docs/old.md"
    # The next apply deletes the orphan, but that is pending cleanup, not drift.
    assert agent["drift"]["has_changes"] is False
    assert agent["drift"]["cleanup"] == 1
    assert "1 orphan pending cleanup" in agent["drift"]["line"]
