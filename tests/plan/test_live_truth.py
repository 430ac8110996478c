"""Plan on the live truth, end to end: the CLI against the emulator through the real client.

A lost index and a document edited in place are drift: `plan --detailed-exitcode` exits 2 with a
`reindex` or a `replace (edited in place)`, `status` says so, apply restores the declared state,
and the next plan exits 0. A document kbctl does not manage is never touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kbctl.identity import canonical_text
from kbctl.model import IndexStatus
from tests.snapshots.kit import Bench, make_bench, text_of

MODEL = "multilingual_e5_large_instruct"
CONTENT_READ = "GET /v1/convai/knowledge-base/{documentation_id}/content"
KB = "/v1/convai/knowledge-base"


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    yield from make_bench(tmp_path, monkeypatch)


def _applied(bench: Bench) -> None:
    bench.manifest({"a": text_of("a"), "b": text_of("b")}, url=None)
    out = bench.run("apply", "-e", "staging", "--auto-approve")
    assert out.exit_code == 0, out.output
    bench.clock.advance(5)
    assert bench.run("plan", "-e", "staging", "--detailed-exitcode").exit_code == 0


def _id_of(bench: Bench, key: str) -> str:
    return next(e.id for e in bench.entries() if e.key == key)


def _plan_json(bench: Bench, *extra: str) -> tuple[int, dict[str, object]]:
    out = bench.run("plan", "-e", "staging", "--detailed-exitcode", "--format", "json", *extra)
    assert out.exit_code in (0, 2), out.output
    return out.exit_code, json.loads(out.output)


def _changes(plan: dict[str, object]) -> list[dict[str, object]]:
    changes = plan["changes"]
    assert isinstance(changes, list)
    return [c for c in changes if c["action"] != "noop"]


def test_a_deleted_index_is_planned_as_reindex_and_apply_restores_it(bench: Bench) -> None:
    _applied(bench)
    doc_id = _id_of(bench, "docs/a.md")
    indexes = bench.client.get_json(f"{KB}/{doc_id}/rag-index")
    assert isinstance(indexes, dict)
    (index,) = [i for i in indexes["indexes"] if i["model"] == MODEL]
    bench.client.send_json("DELETE", f"{KB}/{doc_id}/rag-index/{index['id']}")

    status = bench.run("status", "-e", "staging", "--detailed-exitcode")
    assert status.exit_code == 2, status.output
    assert "1 to reindex" in status.output
    code, plan = _plan_json(bench)
    assert code == 2
    assert plan["summary"] == {
        "create": 0,
        "replace": 0,
        "update": 0,
        "delete": 0,
        "noop": 2,
        "reindex": 1,
    }
    (change,) = _changes(plan)
    assert (change["action"], change["key"], change["live_id"]) == ("reindex", "docs/a.md", doc_id)
    assert change["index_status"] == "not_indexed"
    text = bench.run("plan", "-e", "staging").output
    assert "↻ docs/a.md" in text and "no index for multilingual_e5_large_instruct" in text

    applied = bench.run("apply", "-e", "staging", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert bench.provider.index_state(doc_id, MODEL).status is IndexStatus.SUCCEEDED
    assert _id_of(bench, "docs/a.md") == doc_id  # the same document: nothing uploaded
    assert bench.run("plan", "-e", "staging", "--detailed-exitcode").exit_code == 0
    after = bench.run("status", "-e", "staging", "--detailed-exitcode")
    assert after.exit_code == 0 and "no drift" in after.output, after.output


def test_a_failed_index_is_asked_for_anew(bench: Bench) -> None:
    """The index request is get-or-create: a failed index is deleted, then requested again."""
    _applied(bench)
    doc_id = _id_of(bench, "docs/b.md")
    indexes = bench.client.get_json(f"{KB}/{doc_id}/rag-index")
    assert isinstance(indexes, dict)
    (index,) = indexes["indexes"]
    bench.client.send_json("DELETE", f"{KB}/{doc_id}/rag-index/{index['id']}")
    clean = bench.world.config
    bench.world.config = replace(clean, fail_index_containing=("b: the quarter",))
    bench.client.send_json("POST", f"{KB}/{doc_id}/rag-index", {"model": MODEL})
    bench.clock.advance(10)
    code, plan = _plan_json(bench)
    assert code == 2
    (change,) = _changes(plan)
    assert (change["action"], change["index_status"]) == ("reindex", "failed")

    stopped = bench.run("apply", "-e", "staging", "--auto-approve")
    assert stopped.exit_code == 3, stopped.output  # it fails again: the gate says why
    assert "docs/b.md: failed" in stopped.output
    bench.world.config = clean
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    assert bench.provider.index_state(doc_id, MODEL).status is IndexStatus.SUCCEEDED


def test_a_document_edited_in_place_is_replaced_with_the_declared_content(bench: Bench) -> None:
    _applied(bench)
    doc_id = _id_of(bench, "docs/a.md")
    hand = bench.world.add_document("text", "Opening hours (by hand)", text_of("hours"))
    entries = [
        {"type": e.type, "name": e.name, "id": e.id, "usage_mode": e.usage_mode}
        for e in bench.entries()
    ]
    bench.world.set_knowledge_base(
        "agent_staging",
        [*entries, {"type": "text", "name": "Opening hours (by hand)", "id": hand}],
    )
    bench.client.send_json("POST", f"{KB}/{hand}/rag-index", {"model": MODEL})
    bench.clock.advance(10)
    assert bench.run("plan", "-e", "staging", "--detailed-exitcode").exit_code == 0
    bench.client.send_json("PATCH", f"{KB}/{doc_id}", {"content": "We are CLOSED forever"})
    bench.client.send_json("PATCH", f"{KB}/{hand}", {"content": "Closed on Sundays " * 40})
    bench.client.send_json("POST", f"{KB}/{hand}/rag-index", {"model": MODEL})
    bench.clock.advance(10)

    code, plan = _plan_json(bench)
    assert code == 2
    (change,) = _changes(plan)
    assert (change["action"], change["key"], change["live_id"]) == ("replace", "docs/a.md", doc_id)
    assert change["reason"] == "edited_in_place"
    assert "edited in place" in bench.run("plan", "-e", "staging").output
    markdown = bench.run("plan", "-e", "staging", "--format", "markdown").output
    assert "edited in place" in markdown

    applied = bench.run("apply", "-e", "staging", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    new_id = _id_of(bench, "docs/a.md")
    assert new_id != doc_id and bench.world.document(doc_id) is None
    declared = canonical_text((bench.root / "manifests/docs/a.md").read_text(encoding="utf-8"))
    assert bench.provider.document_content(new_id) == declared
    assert bench.provider.index_state(new_id, MODEL).status is IndexStatus.SUCCEEDED
    assert hand in {e.id for e in bench.entries()}  # a hand-made document is never touched
    assert bench.provider.document_content(hand).startswith(b"Closed on Sundays")
    assert bench.run("plan", "-e", "staging", "--detailed-exitcode").exit_code == 0


def test_refresh_content_reads_every_managed_document(bench: Bench) -> None:
    """Without suspicion nothing is read; `--refresh-content` hashes every managed document's
    live content (text and file documents; a URL's content is its URL)."""
    _applied(bench)
    reads = bench.world.calls[CONTENT_READ]
    assert bench.run("plan", "-e", "staging").exit_code == 0
    assert bench.world.calls[CONTENT_READ] == reads
    code, _ = _plan_json(bench, "--refresh-content")
    assert code == 0
    assert bench.world.calls[CONTENT_READ] == reads + 3  # docs/a.md, docs/b.md, rules
