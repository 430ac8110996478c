"""`provider: openai` end to end: the handbook example planned, applied, changed and checked
against the emulator's vector store, through kbctl's real HTTP client."""

from __future__ import annotations

import httpx
import pytest

from kbctl import commands
from kbctl.errors import ExitCode, IndexGateError
from tests.jsonview import view
from tests.openai.conftest import KEY, STORE, Handbook

KEYS = [
    "kb/hr/leave/annual-leave.md",
    "kb/hr/leave/sick-leave.md",
    "kb/it/security/passwords.md",
    "kb/sales/pricing/discounts.md",
    "kb/sales/pricing/price-list.md",
]


def api_client(handbook: Handbook) -> httpx.Client:
    """A person at the API: plain HTTP to the same emulator."""
    return httpx.Client(
        transport=httpx.WSGITransport(app=handbook.app),
        base_url="http://emulator/v1",
        headers={"Authorization": f"Bearer {KEY}"},
    )


def test_first_apply_creates_the_store_and_attaches_every_document_with_its_metadata(
    handbook: Handbook,
) -> None:
    plan = commands.plan(handbook.session, "local").plan
    assert plan.summary.create == 5 and not handbook.world.stores()  # planning wrote nothing

    run = handbook.apply()
    assert run.summary.startswith("5 created")
    (store,) = handbook.world.stores()
    assert store["name"] == STORE and view(store).obj("file_counts").integer("completed") == 5
    attached = handbook.attached()
    assert sorted(attached) == KEYS
    assert all(f["status"] == "completed" for f in attached.values())
    leave = attached["kb/hr/leave/annual-leave.md"]["attributes"]
    assert leave["dept"] == "hr" and leave["title"] == "Annual leave" and leave["version"] == 4
    assert leave["kbctl_owner"] == "company-handbook/local"
    prices = attached["kb/sales/pricing/price-list.md"]
    assert prices["chunking_strategy"] == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 100},
    }
    assert sorted(handbook.world.file_ids()) == sorted(f["id"] for f in attached.values())

    again = commands.plan(handbook.session, "local").plan
    assert not again.has_changes
    assert commands.plan_verdict(again) is None
    (status,) = commands.status(handbook.session, "local")
    assert not status.has_changes
    snapshots = list((handbook.root / "state-snapshots").rglob("*.json"))
    assert snapshots and all(KEY not in p.read_text() for p in snapshots)


def test_a_one_line_change_is_one_replace_detached_only_after_the_new_file_completed(
    handbook: Handbook,
) -> None:
    handbook.apply()
    old = handbook.attached()["kb/hr/leave/sick-leave.md"]["id"]
    doc = handbook.doc("kb/hr/leave/sick-leave.md")
    doc.write_text(doc.read_text() + "Part-time staff get the same rules, pro rata.\n")
    plan = commands.plan(handbook.session, "local").plan
    assert (plan.summary.replace, plan.summary.create, plan.summary.update) == (1, 0, 0)
    handbook.recorder.detaches.clear()

    run = handbook.apply()
    assert run.summary.startswith("1 replaced")
    new = handbook.attached()["kb/hr/leave/sick-leave.md"]["id"]
    assert new != old
    # The swap detaches it; the delete asks again (never relying on deleting the File).
    detach = handbook.recorder.detaches[0]
    assert {d.file_id for d in handbook.recorder.detaches} == {old}
    assert detach.file_id == old and old in detach.statuses
    assert detach.statuses[new] == "completed"  # a search never finds neither version
    assert old not in handbook.world.file_ids()  # kbctl uploaded it, no other store uses it
    assert len(handbook.attached()) == 5


def test_a_metadata_only_change_is_an_update_in_place_without_upload(
    handbook: Handbook,
) -> None:
    handbook.apply()
    before = handbook.attached()["kb/it/security/passwords.md"]
    sidecar = handbook.doc("kb/it/security/passwords.md.metadata.yaml")
    sidecar.write_text(sidecar.read_text().replace("version: 3", "version: 4"))
    plan = commands.plan(handbook.session, "local").plan
    (change,) = [c for c in plan.agents[0].changes if c.action.value != "noop"]
    assert change.action.value == "update" and [f.field for f in change.fields] == ["metadata"]
    uploads = handbook.recorder.uploads()

    handbook.apply()
    after = handbook.attached()["kb/it/security/passwords.md"]
    assert after["id"] == before["id"] and after["attributes"]["version"] == 4
    assert after["attributes"]["kbctl_hash"] == before["attributes"]["kbctl_hash"]
    assert handbook.recorder.uploads() == uploads
    assert not commands.plan(handbook.session, "local").plan.has_changes


def test_a_chunking_change_is_a_replace(handbook: Handbook) -> None:
    handbook.apply()
    manifest = handbook.manifest()
    manifest.write_text(
        manifest.read_text().replace("max_chunk_size_tokens: 400", "max_chunk_size_tokens: 600")
    )
    plan = commands.plan(handbook.session, "local").plan
    assert plan.summary.replace == 1
    handbook.apply()
    prices = handbook.attached()["kb/sales/pricing/price-list.md"]
    assert prices["chunking_strategy"]["static"]["max_chunk_size_tokens"] == 600


def test_a_processing_failure_stops_at_the_gate_with_the_store_unchanged(
    handbook: Handbook,
) -> None:
    handbook.apply()
    before = {k: (f["id"], f["status"]) for k, f in handbook.attached().items()}
    files = sorted(handbook.world.file_ids())
    handbook.world.replace_config(fail_index_containing=("BROKEN",))
    doc = handbook.doc("kb/sales/pricing/discounts.md")
    doc.write_text(doc.read_text() + "This paragraph is BROKEN.\n")

    with pytest.raises(IndexGateError) as caught:
        handbook.apply()
    assert caught.value.exit_code == ExitCode.INDEX_GATE
    assert int(caught.value.exit_code) == 3
    assert "kb/sales/pricing/discounts.md" in (caught.value.detail or "")
    after = {k: (f["id"], f["status"]) for k, f in handbook.attached().items()}
    assert after == before
    assert sorted(handbook.world.file_ids()) == files  # the failed upload was deleted


def test_a_file_attached_by_hand_is_never_touched(handbook: Handbook) -> None:
    handbook.apply()
    store = handbook.store_id()
    with api_client(handbook) as api:
        upload = api.post(
            "/files",
            files={"file": ("faq.md", b"# FAQ\n\nThe office opens at 8.\n", "text/markdown")},
            data={"purpose": "assistants"},
        )
        hand = upload.json()["id"]
        attach = {"file_id": hand, "attributes": {"dept": "hr", "kbctl_key": "faq"}}
        assert api.post(f"/vector_stores/{store}/files", json=attach).status_code == 200
    handbook.clock.advance(10)
    # Remove a document and change another: a delete and a replace around the hand-made file.
    handbook.doc("kb/hr/leave/sick-leave.md").unlink()
    handbook.doc("kb/hr/leave/sick-leave.md.metadata.yaml").unlink()
    doc = handbook.doc("kb/hr/leave/annual-leave.md")
    doc.write_text(doc.read_text() + "Unused days expire at the end of March.\n")
    plan = commands.plan(handbook.session, "local").plan
    assert [e.id for e in plan.agents[0].unmanaged] == [hand]

    handbook.apply()
    attached = handbook.attached()
    assert attached["faq"]["id"] == hand and attached["faq"]["attributes"] == attach["attributes"]
    assert hand in handbook.world.file_ids()
    assert "kb/hr/leave/sick-leave.md" not in attached
    assert not commands.plan(handbook.session, "local").plan.has_changes


def test_rollback_restores_the_previous_store_contents(handbook: Handbook) -> None:
    handbook.apply()
    first = {k: f["attributes"] for k, f in handbook.attached().items()}
    doc = handbook.doc("kb/hr/leave/sick-leave.md")
    doc.write_text("# Sick leave\n\nNew rules: call HR on the first day.\n")
    sidecar = handbook.doc("kb/hr/leave/sick-leave.md.metadata.yaml")
    sidecar.write_text(sidecar.read_text().replace("version: 2", "version: 3"))
    handbook.apply()
    assert handbook.attached()["kb/hr/leave/sick-leave.md"]["attributes"]["version"] == 3

    back = commands.rollback(handbook.session, "local", "previous", auto_approve=True)
    assert back.summary.startswith("1 replaced")
    restored = {k: f["attributes"] for k, f in handbook.attached().items()}
    assert restored == first
    (sick,) = [
        f
        for f in handbook.world.store_files(handbook.store_id())
        if view(f).obj("attributes").opt_text("kbctl_key") == "kb/hr/leave/sick-leave.md"
    ]
    content = handbook.world.file_bytes(view(sick).text("id"))
    assert b"doctor's certificate" in content


def test_check_reports_coverage_at_1_from_the_store_search(handbook: Handbook) -> None:
    handbook.apply()
    (run,) = commands.check(handbook.session, "local")
    assert run.report.coverage_at_1 == 1.0 and run.report.meets
    assert run.report.policy.min_coverage_at_1 == 0.6
    assert commands.check_verdict("local", (run,), detailed=True) is None

    # An expected document goes from the store (detached by hand): three of the five checks
    # expect it, Coverage@1 falls to 40 % and min_coverage_at_1 (60 %) raises the alert.
    store = handbook.store_id()
    gone = handbook.attached()["kb/hr/leave/annual-leave.md"]["id"]
    with api_client(handbook) as api:
        assert api.delete(f"/vector_stores/{store}/files/{gone}").status_code == 200
    (run,) = commands.check(handbook.session, "local")
    assert (run.report.top1, run.report.total) == (2, 5) and not run.report.meets_at_1
    verdict = commands.check_verdict("local", (run,), detailed=True)
    assert verdict is not None and verdict.exit_code == 3
    assert "Coverage@1 40% < min_coverage_at_1 60%" in str(verdict.detail)
