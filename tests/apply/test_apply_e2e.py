"""`apply_agent_plan` end to end: the real planner and provider against the emulator, FakeClock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kbctl.apply import Outcome, Phase
from kbctl.apply.events import ApplyEvent, GatePassed, PhaseStarted
from kbctl.apply.saved import check_saved_plan
from kbctl.errors import (
    ConcurrentChangeError,
    ExitCode,
    IndexGateError,
    PolicyError,
    StalePlanError,
    UsageError,
)
from kbctl.model import SmallDocumentPolicy, UsageMode
from kbctl.plan.types import Action, Plan
from tests.apply.conftest import (
    ENV,
    MODEL,
    Workspace,
    WorkspaceFactory,
    docs,
    text_doc,
)

CREATE_TEXT = "POST /v1/convai/knowledge-base/text"
PATCH_AGENT = "PATCH /v1/convai/agents/{agent_id}"


def test_first_apply_creates_indexes_attaches_and_converges(ws: Workspace) -> None:
    target = ws.target([*docs(5), text_doc("rules", "Be polite.", mode=UsageMode.PROMPT)])
    result = ws.apply(target)
    assert result.outcome is Outcome.APPLIED
    assert len(result.created) == 6
    assert sorted(result.indexed) == [f"quarters/q{i:03d}.md" for i in range(5)]
    assert result.agent_updated and result.version_id
    ws.assert_converged(target)
    names = ws.events.names()
    # The order of DESIGN §5: uploads, the gate, one PATCH, then (nothing to) delete.
    assert names.index("gate_passed") < names.index("agent_updated") < names.index("finished")
    assert all(names.index("document_created") < names.index("gate_passed") for _ in [0])
    assert ws.calls(PATCH_AGENT) == 1
    # Nothing changed since: a second apply writes nothing.
    assert not ws.plan(target).has_changes


def test_one_changed_document_is_one_replace_and_the_old_one_is_deleted(ws: Workspace) -> None:
    first = docs(4)
    ws.apply(ws.target(first))
    old_ids = set(ws.agent_ids())
    changed = (*first[:2], text_doc(first[2].key, first[2].content.decode() + "\nOne more line."))
    target = ws.target((*changed, first[3]))
    plan = ws.plan(target)
    actions = [c.action for c in plan.changes]
    assert actions.count(Action.REPLACE) == 1 and actions.count(Action.NOOP) == 3
    patches = ws.calls(PATCH_AGENT)
    result = ws.apply(target, plan=plan)
    assert [d.key for d in result.created] == [first[2].key]
    assert [d.key for d in result.deleted] == [first[2].key]
    new_ids = set(ws.agent_ids())
    assert len(old_ids - new_ids) == 1 and len(new_ids - old_ids) == 1
    gone = (old_ids - new_ids).pop()
    assert ws.world.document(gone) is None
    assert ws.calls(PATCH_AGENT) == patches + 1
    ws.assert_converged(target)


def test_index_failure_stops_at_the_gate_with_the_agent_unchanged(
    make_workspace: WorkspaceFactory,
) -> None:
    ws = make_workspace(fail_index_containing=("CORRUPT",))
    base = docs(3)
    ws.apply(ws.target(base))
    before_ids = ws.agent_ids()
    before_docs = {d.id for d in ws.world.documents()}
    agent = ws.world.agent(ws.agent_id)
    assert agent is not None
    versions = agent.version_count
    bad = text_doc("quarters/bad.md", "CORRUPT " * 100)
    target = ws.target((*base, *docs(3, "news/n"), bad))
    with pytest.raises(IndexGateError) as info:
        ws.apply(target)
    err = info.value
    assert err.exit_code == ExitCode.INDEX_GATE
    assert "quarters/bad.md: failed" in (err.detail or "")
    assert "valid" in (err.detail or "")  # the remedy
    assert "agent was not changed" in (err.hint or "")
    after = ws.world.agent(ws.agent_id)
    assert after is not None and after.version_count == versions
    assert ws.agent_ids() == before_ids
    assert {d.id for d in ws.world.documents()} == before_docs  # no leftover uploads
    assert ws.events.of(PhaseStarted)[-1].phase is Phase.CLEANUP


def test_quota_exceeded_stops_at_the_gate_and_frees_what_it_took(
    make_workspace: WorkspaceFactory,
) -> None:
    ws = make_workspace(rag_quota_bytes=3000)
    target = ws.target(docs(8))
    plan = ws.plan(target)
    assert any(f.code == "quota_exceeded" for f in plan.findings)  # forecast, not a refusal
    with pytest.raises(IndexGateError) as info:
        ws.apply(target, plan=plan)
    detail = info.value.detail or ""
    assert "rag_limit_exceeded" in detail
    assert "RAG quota is full" in detail
    assert ws.agent_ids() == []
    assert ws.world.documents() == []
    assert ws.provider.quota().used_bytes == 0


def test_index_timeout_stops_at_the_gate(make_workspace: WorkspaceFactory) -> None:
    ws = make_workspace(index_seconds=600.0)
    target = ws.target(docs(2), index_timeout=30)
    started = ws.clock.monotonic()
    with pytest.raises(IndexGateError) as info:
        ws.apply(target)
    assert "timeout" in (info.value.detail or "")
    assert "index_timeout" in (info.value.detail or "")
    assert 30 <= ws.clock.monotonic() - started < 60
    assert ws.world.documents() == [] and ws.agent_ids() == []


@pytest.mark.parametrize("policy", list(SmallDocumentPolicy))
def test_small_documents_follow_the_policy(ws: Workspace, policy: SmallDocumentPolicy) -> None:
    tiny = text_doc("faq/tiny.md", "Open 9-20 daily.")
    target = ws.target((*docs(2), tiny), small=policy)
    if policy is SmallDocumentPolicy.FAIL:
        with pytest.raises(IndexGateError) as info:
            ws.apply(target)
        assert "faq/tiny.md" in (info.value.detail or "")
        assert ws.world.documents() == []  # stopped before any upload
        return
    result = ws.apply(target)
    entries = ws.live(target).agent.knowledge_base
    by_mode = {e.usage_mode for e in entries if "faq/tiny.md" in e.name}
    if policy is SmallDocumentPolicy.PROMPT:
        assert by_mode == {UsageMode.PROMPT}
        assert "faq/tiny.md" not in result.indexed
    else:
        assert by_mode == set()
    # The plan reports it once, as info: the policy handles it, so apply does not warn again.
    assert not any("faq/tiny.md" in w for w in result.warnings)
    ws.assert_converged(target)


def test_an_unmanaged_document_attached_by_hand_survives(ws: Workspace) -> None:
    manual = ws.world.add_document("text", "Hand-written FAQ", "Q: parking? A: yes. " * 40)
    ws.world.set_knowledge_base(
        ws.agent_id, [{"type": "text", "name": "Hand-written FAQ", "id": manual}]
    )
    first = docs(3)
    ws.apply(ws.target(first))
    assert manual in ws.agent_ids()
    # Remove every managed document: only the hand-made one is left, and it still exists.
    target = ws.target(())
    with pytest.raises(PolicyError):
        ws.apply(target)
    ws.apply(target, allow_destroy=True)
    assert ws.agent_ids() == [manual]
    assert ws.world.document(manual) is not None


def test_a_document_shared_with_another_agent_is_kept(ws: Workspace) -> None:
    first = docs(3)
    ws.apply(ws.target(first))
    shared = ws.live(ws.target(first)).agent.knowledge_base[0]
    ws.world.set_knowledge_base("agent_2", [{"type": "text", "name": shared.name, "id": shared.id}])
    key = next(s.key for s in first if s.key in shared.name)
    changed = tuple(
        text_doc(s.key, "changed " + s.content.decode()) if s.key == key else s for s in first
    )
    target = ws.target(changed)
    result = ws.apply(target)
    assert [d.id for d in result.kept] == [shared.id]
    assert "agent_2" in result.kept[0].note
    assert any("agent_2" in w for w in result.warnings)
    assert ws.world.document(shared.id) is not None
    assert ws.agent_ids("agent_2") == [shared.id]
    assert shared.id not in ws.agent_ids()


def test_max_deletes_and_protect_need_allow_destroy(ws: Workspace) -> None:
    first = docs(5)
    ws.apply(ws.target(first))
    fewer = first[:2]
    with pytest.raises(PolicyError) as info:
        ws.apply(ws.target(fewer, max_deletes=2))
    assert info.value.exit_code == ExitCode.POLICY
    assert first[4].key in (info.value.detail or "")
    with pytest.raises(PolicyError):
        ws.apply(ws.target(fewer, protect=True))
    assert len(ws.agent_ids()) == 5  # nothing happened
    result = ws.apply(ws.target(fewer, protect=True), allow_destroy=True)
    assert len(result.deleted) == 3
    ws.assert_converged(ws.target(fewer))


def test_a_concurrent_change_of_the_agent_is_detected_and_the_next_apply_reuses(
    ws: Workspace,
) -> None:
    first = docs(2)
    ws.apply(ws.target(first))
    target = ws.target(docs(4))  # two changed, two new

    def meddler(event: ApplyEvent) -> None:
        """Someone edits the agent in the dashboard while kbctl waits for indexes."""
        if isinstance(event, GatePassed):
            ws.world.set_knowledge_base(ws.agent_id, [])

    with pytest.raises(ConcurrentChangeError) as info:
        ws.apply(target, events=meddler)
    assert info.value.exit_code == ExitCode.STALE
    assert "reuses them" in (info.value.detail or "")
    uploads = ws.calls(CREATE_TEXT)
    result = ws.apply(target)
    assert ws.calls(CREATE_TEXT) == uploads  # all four reused, no second upload
    assert len(result.reused) == 4 and not result.created
    ws.assert_converged(target)


def test_a_plan_made_before_someone_changed_the_workspace_is_stale(ws: Workspace) -> None:
    target = ws.target(docs(2))
    plan = ws.plan(target)
    manual = ws.world.add_document("text", "Hand-written", "x" * 600)
    ws.world.set_knowledge_base(
        ws.agent_id, [{"type": "text", "name": "Hand-written", "id": manual}]
    )
    with pytest.raises(StalePlanError):
        ws.apply(target, plan=plan)
    assert ws.calls(CREATE_TEXT) == 0


def test_a_manifest_edited_after_the_plan_is_stale(ws: Workspace) -> None:
    target = ws.target(docs(2))
    plan = ws.plan(target)
    edited = ws.target(docs(2, version=1))
    with pytest.raises(StalePlanError):
        ws.apply(edited, plan=plan)
    assert ws.world.documents() == []


def test_no_changes_writes_nothing(ws: Workspace) -> None:
    target = ws.target(docs(2))
    ws.apply(target)
    patches = ws.calls(PATCH_AGENT)
    plan = ws.plan(target)
    assert not plan.has_changes
    assert ws.calls(PATCH_AGENT) == patches


def test_usage_mode_change_reindexes_without_upload(ws: Workspace) -> None:
    spec = text_doc("rules.md", mode=UsageMode.PROMPT)
    ws.apply(ws.target([spec]))
    uploads = ws.calls(CREATE_TEXT)
    target = ws.target([replace(spec, usage_mode=UsageMode.AUTO)])
    result = ws.apply(target)
    assert ws.calls(CREATE_TEXT) == uploads
    assert result.indexed == ("rules.md",)
    ws.assert_converged(target)
    assert ws.provider.index_state(ws.agent_ids()[0], MODEL).status.value == "succeeded"


def test_a_saved_plan_is_checked_against_a_plan_made_now(ws: Workspace) -> None:
    saved = ws.plan(ws.target(docs(2)))
    assert check_saved_plan(Plan(ENV, (saved,)), Plan(ENV, (saved,))) == Plan(ENV, (saved,))
    with pytest.raises(UsageError):
        check_saved_plan(Plan("staging", (saved,)), Plan(ENV, (saved,)))
    edited = ws.plan(ws.target(docs(3)))
    with pytest.raises(StalePlanError, match="Saved plan is stale") as info:
        check_saved_plan(Plan(ENV, (saved,)), Plan(ENV, (edited,)))
    assert "manifest changed" in (info.value.detail or "")
    with pytest.raises(StalePlanError) as info:
        check_saved_plan(Plan(ENV, (saved,)), Plan(ENV, ()))
    assert "no manifest declares it" in (info.value.detail or "")
