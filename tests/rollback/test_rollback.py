"""`kbctl rollback` end to end: the emulator, the real provider, the CLI, the snapshot files."""

from __future__ import annotations

import json
from dataclasses import replace

from kbctl.snapshots.record import SnapshotKind
from tests.snapshots.kit import PRODUCTION_AGENT, Bench, snapshot_files, text_of

CREATE_TEXT = "POST /v1/convai/knowledge-base/text"
CREATE_URL = "POST /v1/convai/knowledge-base/url"


def v1(bench: Bench) -> None:
    bench.manifest(
        {"a": text_of("alpha v1"), "b": text_of("bravo v1")},
        rag="max_retrieved_rag_chunks_count: 10\nmax_vector_distance: 0.5",
    )


def v2(bench: Bench, **kwargs: str) -> None:
    bench.manifest(
        {"a": text_of("alpha v2"), "c": text_of("charlie v2")},
        rag="max_retrieved_rag_chunks_count: 5\nmax_vector_distance: 0.7",
        rules="Greet the caller, then ask for their name.",
        url="https://example.com/faq-v2",
        **kwargs,
    )


def apply_v1_then_v2(bench: Bench) -> tuple[set[tuple[str | None, str | None, str]], dict]:
    v1(bench)
    bench.apply()
    state = bench.kb_state()
    rag = bench.rag()
    v2(bench)
    bench.apply()
    assert bench.kb_state() != state and bench.rag() != rag
    return state, rag


def test_rollback_to_previous_restores_v1_exactly(bench: Bench) -> None:
    v1_state, v1_rag = apply_v1_then_v2(bench)
    v1_ids = {e.key: e.id for e in bench.entries()}
    uploads = bench.world.calls[CREATE_TEXT] + bench.world.calls[CREATE_URL]

    result = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")

    assert result.exit_code == 0, result.output
    assert bench.kb_state() == v1_state  # keys, hashes and usage modes
    assert bench.rag() == v1_rag
    assert "Rolling back demo/staging" in result.output
    assert "Plan:" in result.output  # shown as a plan first
    # v2 deleted a, b, the rules text and the URL of v1: all four re-created from the snapshot.
    assert bench.world.calls[CREATE_TEXT] + bench.world.calls[CREATE_URL] == uploads + 4
    recreated = {e.key: e for e in bench.entries()}
    for key in ("docs/a.md", "docs/b.md"):
        assert recreated[key].id not in v1_ids.values()
        doc = bench.world.document(recreated[key].id)
        assert doc is not None and doc.content == text_of(
            "alpha v1" if key == "docs/a.md" else "bravo v1"
        )
        statuses = {i.status for i in bench.world.indexes(recreated[key].id)}
        assert statuses == {"succeeded"}
    # The rollback is itself recorded, before and after.
    newest = bench.store.snapshots("staging")[:2]
    assert [s.kind for s in newest] == [SnapshotKind.AFTER, SnapshotKind.BEFORE]
    assert {s.operation for s in newest} == {"rollback"}
    assert newest[0].outcome == "applied"
    assert newest[0].rollback_of == newest[1].rollback_of is not None


def test_after_a_rollback_plan_shows_the_way_forward_again(bench: Bench) -> None:
    apply_v1_then_v2(bench)
    assert (
        bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve").exit_code == 0
    )
    state = bench.kb_state()

    plan = bench.run("plan", "-e", "staging", "--format", "json", "--detailed-exitcode")

    assert plan.exit_code == 2, plan.output
    data = json.loads(plan.stdout)
    actions = {c["key"]: c["action"] for c in data["changes"]}
    assert actions["docs/a.md"] == "replace"
    assert actions["docs/b.md"] == "delete"
    assert actions["docs/c.md"] == "create"
    assert bench.kb_state() == state  # plan never re-applies anything


def test_documents_that_still_exist_are_swapped_back_without_upload(bench: Bench) -> None:
    v1(bench)
    bench.apply()
    b_v1 = next(e for e in bench.entries() if e.key == "docs/b.md")
    # Another agent uses b: apply v2 cannot delete it, it stays as a managed orphan.
    bench.world.set_knowledge_base(
        PRODUCTION_AGENT, [{"type": "text", "name": b_v1.name, "id": b_v1.id, "usage_mode": "auto"}]
    )
    v2(bench)
    result, _ = bench.apply()
    assert [d.id for d in result.kept] == [b_v1.id]
    uploads = bench.world.calls[CREATE_TEXT]

    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")

    assert out.exit_code == 0, out.output
    back = {e.key: e for e in bench.entries()}
    assert back["docs/b.md"].id == b_v1.id  # the very same document, attached again
    assert bench.world.calls[CREATE_TEXT] == uploads + 2  # only a and the rules text


def test_rollback_gates_on_indexing_and_leaves_the_agent_unchanged(bench: Bench) -> None:
    apply_v1_then_v2(bench)
    v2_state = bench.kb_state()
    v2_version = bench.world.agent("agent_staging").version_id  # type: ignore[union-attr]
    bench.world.config = replace(bench.world.config, fail_index_containing=("bravo v1",))

    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")

    assert out.exit_code == 3, out.output
    assert bench.kb_state() == v2_state
    assert bench.world.agent("agent_staging").version_id == v2_version  # type: ignore[union-attr]
    names = [d.name for d in bench.world.documents()]
    assert not any(n.startswith("docs/b.md") for n in names)  # the gate removed what it made
    after = bench.store.snapshots("staging")[0]
    assert after.operation == "rollback" and after.outcome == "index_gate"


def test_rollback_to_an_explicit_snapshot_id(bench: Bench) -> None:
    v1(bench)
    _, hook = bench.apply()
    v1_after = hook.after_snapshot
    assert v1_after is not None
    v1_state = bench.kb_state()
    v2(bench)
    bench.apply()
    bench.manifest({"z": text_of("zulu")}, rules=None, url=None)
    bench.apply(allow_destroy=True)

    out = bench.run("rollback", "-e", "staging", "--to", v1_after.id, "--auto-approve")

    assert out.exit_code == 0, out.output
    assert bench.kb_state() == v1_state


def test_rollback_keeps_documents_kbctl_does_not_manage(bench: Bench) -> None:
    v1(bench)
    bench.apply()
    hand = bench.world.add_document("text", "Hand-made FAQ", text_of("by hand"))
    entries = [
        {"type": e.type, "name": e.name, "id": e.id, "usage_mode": e.usage_mode}
        for e in bench.entries()
    ]
    bench.world.set_knowledge_base(
        "agent_staging",
        [*entries, {"type": "text", "name": "Hand-made FAQ", "id": hand, "usage_mode": "auto"}],
    )
    v2(bench)
    bench.apply()
    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert hand in {e.id for e in bench.entries()}
    assert "Documents kbctl does not manage are left as they are" in out.output


def test_rollback_with_nothing_to_change(bench: Bench) -> None:
    v1(bench)
    bench.apply()
    v2(bench)
    bench.apply()
    assert (
        bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve").exit_code == 0
    )
    before = bench.store.snapshots("staging")[0]
    out = bench.run("rollback", "-e", "staging", "--to", before.rollback_of or "", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert "already matches snapshot" in out.output


def test_previous_undoes_the_last_change_including_a_rollback(bench: Bench) -> None:
    v1_state, _ = apply_v1_then_v2(bench)
    v2_state = bench.kb_state()
    assert (
        bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve").exit_code == 0
    )
    assert bench.kb_state() == v1_state
    assert (
        bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve").exit_code == 0
    )
    assert bench.kb_state() == v2_state


# ------------------------------------------------------------------------------ guards


def test_rollback_without_a_terminal_or_auto_approve_is_refused(bench: Bench) -> None:
    apply_v1_then_v2(bench)
    digest = bench.world_digest()
    out = bench.run("rollback", "-e", "staging", "--to", "previous")
    assert out.exit_code == 1
    assert "Refusing to roll back without confirmation" in out.output
    assert bench.world_digest() == digest


def test_rollback_honours_max_deletes_and_allow_destroy(bench: Bench) -> None:
    v1(bench)
    bench.apply()
    v2(bench, policy="max_deletes: 0")
    bench.apply(allow_destroy=True)
    digest = bench.world_digest()

    refused = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert refused.exit_code == 5, refused.output
    assert "--allow-destroy" in refused.output
    assert bench.world_digest() == digest

    allowed = bench.run(
        "rollback", "-e", "staging", "--to", "previous", "--auto-approve", "--allow-destroy"
    )
    assert allowed.exit_code == 0, allowed.output


def test_rollback_without_any_earlier_change_is_refused(bench: Bench) -> None:
    v1(bench)
    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 1
    assert "No earlier state to roll back to in environment 'staging'" in out.output
    assert bench.world.total_calls == 0


def test_rollback_files_stay_in_the_snapshot_folder_given(bench: Bench) -> None:
    v1(bench)
    bench.apply()
    v2(bench)
    bench.apply()
    count = len(snapshot_files(bench.store))
    out = bench.run(
        "rollback",
        "-e",
        "staging",
        "--to",
        "previous",
        "--auto-approve",
        "--snapshots-dir",
        "state-snapshots",
    )
    assert out.exit_code == 0, out.output
    assert len(snapshot_files(bench.store)) == count + 2
