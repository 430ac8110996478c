"""The races between two environments' applies, each made deterministic: a document one run is
about to attach vanishes, another run of the project holds a lease while this one would delete
orphans. Through kbctl's real client against the emulator."""

from __future__ import annotations

from kbctl.apply import ApplyOptions, RecordingEvents, apply_agent_plan
from kbctl.apply.events import ApplyEvent, ApplyWarning, DocumentKept, PlanStarted
from kbctl.apply.lease import Lease, LeaseOwner
from kbctl.identity import shared_document_name
from kbctl.observe import observe
from kbctl.plan.planner import plan_target
from tests.sharing.test_promote import write
from tests.snapshots.kit import PRODUCTION_AGENT, STAGING_AGENT, Bench

MODEL = "multilingual_e5_large_instruct"
UPLOAD = "POST /v1/convai/knowledge-base/text"


def _leftover(bench: Bench, key: str) -> str:
    """A managed, indexed document nobody attaches (a crashed run's upload) with `key`'s
    declared content."""
    spec = next(s for s in bench.target("production").documents if s.key == key)
    name = shared_document_name(spec.key, "demo", spec.content_hash)
    doc_id = bench.world.add_document("text", name, spec.content.decode())
    bench.world.compute_index(doc_id, MODEL)
    bench.clock.advance(60)
    return doc_id


def test_a_reused_document_deleted_before_the_swap_is_uploaded_again(bench: Bench) -> None:
    write(bench)
    leftover = _leftover(bench, "docs/a.md")
    target = bench.target("production")
    live = observe(target, bench.provider)
    plan = plan_target(target, live)
    assert any(c.reuse_id == leftover for c in plan.changes)
    recorder = RecordingEvents()

    def events(event: ApplyEvent) -> None:
        recorder(event)
        if isinstance(event, PlanStarted):  # another run deletes the orphan it also saw
            bench.world.delete_document(leftover)

    # Staging's run applies meanwhile (it holds its agent's lease) and deletes the orphan.
    Lease(
        bench.provider,
        bench.clock,
        LeaseOwner("5ca1ab1e", STAGING_AGENT, "demo", "staging", "0" * 12),
    ).acquire()
    uploads = bench.world.calls[UPLOAD]
    result = apply_agent_plan(
        plan,
        target,
        bench.provider,
        bench.clock,
        events=events,
        options=ApplyOptions(poll_initial=1.0, poll_max=2.0),
        observed=live,
    )

    held = {e.key: e.id for e in bench.entries(PRODUCTION_AGENT)}
    assert held["docs/a.md"] != leftover
    assert bench.world.document(held["docs/a.md"]) is not None  # never a deleted id
    assert bench.world.calls[UPLOAD] == uploads + len(plan.changes)  # a's upload came back
    assert any(r.key == "docs/a.md" for r in result.created)
    assert any(
        isinstance(e, ApplyWarning) and "deleted meanwhile" in e.message for e in recorder.events
    )
    out = bench.run("plan", "-e", "production", "--detailed-exitcode")
    assert out.exit_code == 0, out.output


def test_orphans_are_kept_while_another_run_of_the_project_applies(bench: Bench) -> None:
    write(bench)
    out = bench.run("apply", "-e", "staging", "--auto-approve")
    assert out.exit_code == 0, out.output
    # A crashed run's upload of a key nobody declares any more: an orphan of the project.
    stray = bench.world.add_document(
        "text", shared_document_name("docs/gone.md", "demo", "0" * 12), "gone " * 200
    )
    # Production's run is applying (it holds its agent's lease) and may attach anything.
    owner = LeaseOwner("feedbeef", PRODUCTION_AGENT, "demo", "production", "0" * 12)
    other = Lease(bench.provider, bench.clock, owner)
    other.acquire()
    target = bench.target("staging")
    live = observe(target, bench.provider)
    plan = plan_target(target, live)
    assert [d.id for d in plan.deletions] == [stray]
    recorder = RecordingEvents()
    apply_agent_plan(
        plan, target, bench.provider, bench.clock, events=recorder, options=ApplyOptions(),
        observed=live,
    )  # fmt: skip
    assert bench.world.document(stray) is not None
    (kept,) = [e for e in recorder.events if isinstance(e, DocumentKept)]
    assert "run feedbeef of demo/production is applying" in kept.reason

    other.release()  # that run is over: the next apply deletes the orphan
    out = bench.run("apply", "-e", "staging", "--auto-approve")
    assert out.exit_code == 0, out.output
    assert bench.world.document(stray) is None
    assert STAGING_AGENT in {a.agent_id for a in bench.world.agents()}
