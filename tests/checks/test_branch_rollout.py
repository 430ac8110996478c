"""`rollout: branch`: the new knowledge base is staged on an agent branch, checked there with
the agent's own retrieval, and merged into main only when the checks pass; a failure (or a
killed run) leaves main untouched and no unarchived kbctl branch. End to end against the
emulator through the real client."""

from __future__ import annotations

import pytest

from kbctl.apply import ApplyOptions, RecordingEvents, apply_agent_plan
from kbctl.apply.events import ChecksFinished, RolloutStep
from kbctl.errors import ExitCode
from kbctl.jsonread import JsonObj
from kbctl.plan.planner import plan_target
from kbctl.provider.elevenlabs.branches import AgentBranches
from tests.checks.conftest import AGENT, CHECKS, DOCS, MORTGAGE_GONE, Bench
from tests.jsonview import view

BRANCH = "    rollout: branch\n"
GONE = {**DOCS, "mortgage": MORTGAGE_GONE}
#: The mortgage document, changed in a way the checks still accept.
REWORDED = {**DOCS, "mortgage": DOCS["mortgage"] + "\nЗаявку можно подать онлайн.\n"}


def kbctl_branches(bench: Bench, *, archived: bool) -> list[JsonObj]:
    listing = view(bench.world.list_branches(AGENT, include_archived=True))
    return [
        b
        for b in listing.objs("results")
        if b.text("name").startswith("kbctl/") and b.flag("is_archived") is archived
    ]


def test_passing_checks_merge_the_branch_into_main_and_archive_it(bench: Bench) -> None:
    bench.manifest(checks=BRANCH + CHECKS)
    result = bench.run("apply", "-e", "staging", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "staged on kbctl/" in result.output
    assert "merged kbctl/" in result.output
    assert "(retriever: rag-query)" in result.output  # checked with the branch's own retrieval
    assert len(bench.kb_ids()) == 4
    assert kbctl_branches(bench, archived=False) == []
    (merged,) = kbctl_branches(bench, archived=True)
    assert bench.world.calls["POST /v1/convai/agents/{agent_id}/branches/{branch_id}/merge"] == 1
    assert bench.world.calls["PATCH /v1/convai/agents/{agent_id}"] == 0  # main: only the merge

    bench.manifest(docs=REWORDED, checks=BRANCH + CHECKS)
    before = {d.id for d in bench.world.documents()}
    again = bench.run("apply", "-e", "staging", "--auto-approve")
    assert again.exit_code == 0, again.output
    after = set(bench.kb_ids())
    assert len(after) == 4 and len(after - before) == 1  # the new mortgage document
    assert {d.id for d in bench.world.documents()} == after  # the superseded one is deleted
    assert kbctl_branches(bench, archived=False) == []
    assert len(kbctl_branches(bench, archived=True)) == 2
    assert merged.text("id") not in {b.text("id") for b in kbctl_branches(bench, archived=False)}


def test_failing_checks_leave_main_untouched_no_branch_and_no_upload(bench: Bench) -> None:
    bench.manifest(checks=BRANCH + CHECKS)
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    ids, versions = bench.kb_ids(), bench.version_count()
    documents = {d.id for d in bench.world.documents()}

    bench.manifest(docs=GONE, checks=BRANCH + CHECKS)
    result = bench.run("apply", "-e", "staging", "--auto-approve")
    assert result.exit_code == ExitCode.INDEX_GATE, result.output
    assert "Apply stopped at the retrieval checks" in result.output
    assert "Retriever: rag-query." in result.output
    assert bench.kb_ids() == ids  # main unchanged
    assert bench.version_count() == versions
    assert kbctl_branches(bench, archived=False) == []  # archived, as the API allows
    assert len(kbctl_branches(bench, archived=True)) == 2
    assert {d.id for d in bench.world.documents()} == documents  # this run's upload deleted


class Killed(BaseException):
    """What SIGKILL does to a run, in-process: it stops where it is, nothing cleans up."""


def _kill_at(step: str, events: RecordingEvents):  # type: ignore[no-untyped-def]
    """A sink that dies at a rollout step, or (`checks`) when the branch's checks finished."""

    def sink(event: object) -> None:
        events(event)  # type: ignore[arg-type]
        if isinstance(event, RolloutStep) and event.step == step:
            raise Killed
        if step == "checks" and isinstance(event, ChecksFinished):
            raise Killed

    return sink


@pytest.mark.parametrize(
    ("step", "failing"),
    [
        ("branch_created", False),
        ("branch_created", True),
        ("checks", False),
        ("checks", True),
        ("branch_merged", False),
    ],
)
def test_a_killed_branch_rollout_converges_on_the_next_apply(
    bench: Bench, step: str, failing: bool
) -> None:
    bench.manifest(checks=BRANCH + CHECKS)
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    ids = bench.kb_ids()
    bench.manifest(docs=GONE if failing else REWORDED, checks=BRANCH + CHECKS)
    target = bench.target()
    live = bench.provider.read_state(target.agent_id, target.project, target.environment)
    with pytest.raises(Killed):
        apply_agent_plan(
            plan_target(target, live),
            target,
            bench.provider,
            bench.clock,
            events=_kill_at(step, RecordingEvents()),
            options=ApplyOptions(poll_initial=1.0, poll_max=2.0),
            agents=AgentBranches(bench.client),
        )
    merges = "POST /v1/convai/agents/{agent_id}/branches/{branch_id}/merge"
    if step == "branch_merged":
        assert bench.kb_ids() != ids  # merged after its checks passed; deletions not done
        assert kbctl_branches(bench, archived=False) == []
    else:
        assert bench.kb_ids() == ids  # main never points at unchecked documents
        (left,) = kbctl_branches(bench, archived=False)  # the killed run's branch, not merged

    result = bench.run("apply", "-e", "staging", "--auto-approve")
    if step != "branch_merged":
        assert f"archived branch {left.text('name')}, left by an earlier run" in result.output
    assert kbctl_branches(bench, archived=False) == []
    left_over = {d.id for d in bench.world.documents()} - set(bench.kb_ids())
    if failing:
        assert result.exit_code == ExitCode.INDEX_GATE, result.output
        assert bench.kb_ids() == ids
        assert bench.world.calls[merges] == 1  # only the first apply's
        # The killed run's upload was reused (not uploaded again), so it stays a managed
        # orphan for the next apply to reuse or delete, as after any killed run.
        assert len(left_over) == 1
    else:
        assert result.exit_code == 0, result.output
        assert bench.kb_ids() != ids
        assert bench.world.calls[merges] == 2
        assert left_over == set()  # the superseded document is deleted by the rerun


CANARY = "    rollout: {strategy: branch, canary_percent: 10}\n"


def traffic(bench: Bench) -> dict[str, float]:
    listing = view(bench.world.list_branches(AGENT))
    return {
        b.text("name"): b.number("current_live_percentage")
        for b in listing.objs("results")
        if b.opt_number("current_live_percentage")
    }


def test_a_canary_runs_beside_main_until_promoted(bench: Bench) -> None:
    bench.manifest(checks=CANARY + CHECKS)
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0  # first: empty
    # An agent with nothing attached: the canary holds the whole new knowledge base.
    assert bench.kb_ids() == []
    (canary,) = kbctl_branches(bench, archived=False)
    assert traffic(bench)[canary.text("name")] == 10.0
    status = bench.run("status", "-e", "staging")
    assert f"Rollout: canary: branch {canary.text('name')} answers 10% of the traffic" in (
        status.output
    )
    plan = bench.run("plan", "-e", "staging")
    assert plan.exit_code == ExitCode.ERROR, plan.output
    assert "A canary rollout is live for agent agent_staging" in plan.output
    assert "kbctl promote -e staging" in plan.output

    promoted = bench.run("promote", "-e", "staging")
    assert promoted.exit_code == 0, promoted.output
    assert len(bench.kb_ids()) == 4  # main got the checked branch
    assert kbctl_branches(bench, archived=False) == []
    assert set(traffic(bench).values()) == {100.0}
    assert "Rollout:" not in bench.run("status", "-e", "staging").output
    assert bench.run("promote", "-e", "staging").exit_code == ExitCode.ERROR  # none left


def test_rollback_during_a_canary_gives_main_all_traffic_back(bench: Bench) -> None:
    bench.manifest(checks=BRANCH + CHECKS)
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    ids = bench.kb_ids()
    bench.manifest(docs=REWORDED, checks=CANARY + CHECKS)
    result = bench.run("apply", "-e", "staging", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "canary: kbctl/" in result.output
    assert bench.kb_ids() == ids  # main keeps answering with the old documents
    assert len(traffic(bench)) == 2

    refused = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert refused.exit_code == ExitCode.ERROR, refused.output  # not beside a live canary
    assert "A canary rollout is live" in refused.output
    assert bench.kb_ids() == ids

    dropped = bench.run("rollback", "-e", "staging")
    assert dropped.exit_code == 0, dropped.output
    assert "rolled back the canary" in dropped.output
    assert set(traffic(bench).values()) == {100.0}
    assert kbctl_branches(bench, archived=False) == []
    assert bench.kb_ids() == ids
    assert bench.run("rollback", "-e", "staging").exit_code == ExitCode.ERROR  # --to needed
