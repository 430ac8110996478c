"""Leftovers of a crashed run whose index failed for good converge in one rerun.

A run killed while waiting at the gate leaves its uploads as managed orphans. When their index
had already failed (`rag_limit_exceeded`: the quota was full then), reusing them would replay
that old answer at the gate; the rerun deletes them and uploads the content afresh instead.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from kbctl.apply import RecordingEvents
from kbctl.errors import IndexGateError
from kbctl.identity import document_name
from kbctl.model import IndexStatus
from tests.apply.conftest import ENV, MODEL, PROJECT, Workspace, WorkspaceFactory, docs


def _crashed_over_quota(make_workspace: WorkspaceFactory) -> tuple[Workspace, set[str]]:
    """What a run killed after its uploads and index requests leaves when the quota was full:
    three managed orphans, two of them with a `rag_limit_exceeded` index. (Made by the very
    calls apply makes, one after the other: a run's gate now stops its uploads at the first
    failure it sees, so which uploads a killed run got to make is a matter of timing.)"""
    ws = make_workspace(rag_quota_bytes=1500)  # room for one document's index, not three
    for spec in docs(3):
        name = document_name(spec.key, PROJECT, ENV, spec.content_hash)
        ws.provider.request_index(ws.provider.create_document(spec, name), MODEL)
    failed = {i.document_id for i in ws.world.indexes() if i.status == "rag_limit_exceeded"}
    assert len(failed) == 2
    return ws, failed


def test_a_leftover_whose_index_failed_for_good_is_uploaded_afresh_in_one_rerun(
    make_workspace: WorkspaceFactory,
) -> None:
    ws, failed = _crashed_over_quota(make_workspace)
    ws.world.config = replace(ws.world.config, rag_quota_bytes=10**7)  # quota freed meanwhile
    target = ws.target(docs(3))
    result = ws.apply(target)  # exit 0 at the first rerun, not 3
    assert failed <= {d.id for d in result.deleted}
    assert len(result.created) == 2 and len(result.reused) == 1
    assert not result.kept
    ws.assert_converged(target)
    assert all(ws.world.document(i) is None for i in failed)


def test_a_fresh_copy_that_fails_again_stops_at_the_gate_and_leaves_nothing(
    make_workspace: WorkspaceFactory,
) -> None:
    ws, failed = _crashed_over_quota(make_workspace)
    target = ws.target(docs(3))
    with pytest.raises(IndexGateError) as info:
        ws.apply(target)  # the quota is still full: the fresh index fails too, honestly
    assert "rag_limit_exceeded" in (info.value.detail or "")
    assert not ws.agent_ids()
    assert all(ws.world.document(i) is None for i in failed)
    statuses = {
        ws.provider.index_state(d.id, "multilingual_e5_large_instruct").status
        for d in ws.live(target).documents
    }
    assert IndexStatus.RAG_LIMIT_EXCEEDED not in statuses


def test_orphans_nobody_wants_go_before_the_uploads_and_free_their_quota(
    make_workspace: WorkspaceFactory,
) -> None:
    """The crashed run's uploads hold the quota; the manifest moved on. They are deleted first,
    so the new document's index fits: one rerun, exit 0 (not 3 forever)."""
    ws, _ = _crashed_over_quota(make_workspace)
    leftovers = {d.id for d in ws.world.documents() if d.doc_type == "text"}
    target = ws.target(docs(1, "other/o"))
    events = RecordingEvents()
    result = ws.apply(target, events=events)
    assert {d.id for d in result.deleted} == leftovers
    names = events.names()
    first_delete = names.index("document_deleted")
    assert first_delete < names.index("document_created")  # before the upload
    ws.assert_converged(target)
