"""`kbctl promote -e ENV` changes main like an apply does, so it behaves like one: it holds the
agent's apply lease (a run applying meanwhile makes it stop with exit 4, naming that run, and
change nothing), and it writes "before" and "after" snapshots, so `kbctl rollback --to
previous` after a promote restores main as it was before the merge. End to end against the
emulator through the real client and the CLI."""

from __future__ import annotations

from kbctl.apply.lease import Lease, LeaseOwner
from kbctl.errors import ExitCode
from kbctl.snapshots.record import SnapshotKind
from tests.checks.conftest import AGENT, CHECKS, Bench
from tests.checks.test_branch_rollout import (
    BRANCH,
    CANARY,
    REWORDED,
    kbctl_branches,
    traffic,
)


def start_canary(bench: Bench) -> list[str]:
    """Main on the first knowledge base, the reworded one live as a 10 % canary; main's ids."""
    bench.manifest(checks=BRANCH + CHECKS)
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    ids = bench.kb_ids()
    bench.manifest(docs=REWORDED, checks=CANARY + CHECKS)
    result = bench.run("apply", "-e", "staging", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert len(traffic(bench)) == 2 and bench.kb_ids() == ids
    return ids


def test_promote_waits_for_no_one_a_run_holding_the_lease_stops_it(bench: Bench) -> None:
    ids = start_canary(bench)
    other = Lease(
        bench.provider,
        bench.clock,
        LeaseOwner(
            "feedbeef", AGENT, "demo", "staging", "9f8e7d6c5b4a", "0123456789ab", "ci-7", 4242
        ),
    )
    other.acquire()  # an apply of this agent is running on another machine
    snapshots = bench.store.list("staging")

    refused = bench.run("promote", "-e", "staging")
    assert refused.exit_code == ExitCode.STALE, refused.output
    assert "run feedbeef holds its lease" in refused.output
    assert "ci-7" in refused.output  # where that run is
    assert bench.kb_ids() == ids and len(traffic(bench)) == 2  # the canary still runs
    assert bench.store.list("staging") == snapshots  # nothing recorded: nothing happened

    other.release()
    promoted = bench.run("promote", "-e", "staging")
    assert promoted.exit_code == 0, promoted.output
    assert bench.kb_ids() != ids and set(traffic(bench).values()) == {100.0}
    lease_folders = [d for d in bench.world.documents() if d.name.startswith("kbctl-lease")]
    assert lease_folders == []  # the promote gave its lease back


def test_promote_is_recorded_and_rollback_previous_undoes_it(bench: Bench) -> None:
    ids = start_canary(bench)
    promoted = bench.run("promote", "-e", "staging")
    assert promoted.exit_code == 0, promoted.output
    new_ids = bench.kb_ids()
    assert new_ids != ids and kbctl_branches(bench, archived=False) == []
    (line,) = [x for x in promoted.output.splitlines() if x.startswith("Snapshot ")]
    after_id = line.split()[1]
    assert line == f"Snapshot {after_id} records the state after the promote."

    records = [s.snapshot for s in bench.store.list("staging") if s.snapshot is not None]
    promote = [r for r in records if r.operation == "promote"]
    assert {r.kind for r in promote} == {SnapshotKind.BEFORE, SnapshotKind.AFTER}
    (before,) = [r for r in promote if r.kind is SnapshotKind.BEFORE]
    (after,) = [r for r in promote if r.kind is SnapshotKind.AFTER]
    assert after.id == after_id and after.apply_id == before.id
    assert before.knowledge_base is not None and after.knowledge_base is not None
    assert sorted(e.id for e in before.knowledge_base) == sorted(ids)  # main before the merge
    assert sorted(e.id for e in after.knowledge_base) == sorted(new_ids)
    assert after.done.agent_updated

    listed = bench.run("snapshots", "list", "-e", "staging")
    assert listed.exit_code == 0 and after_id in listed.output and before.id in listed.output

    back = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert back.exit_code == 0, back.output
    assert f"to snapshot {before.id}: before promote" in back.output  # previous: before it
    assert "reuses orphan" in back.output  # main's old documents, kept by the promote
    # The environment rolls out as a canary, so the way back does too; promoting it restores
    # main as it was before the first promote.
    assert bench.kb_ids() == new_ids and len(traffic(bench)) == 2
    again = bench.run("promote", "-e", "staging")
    assert again.exit_code == 0, again.output
    assert sorted(bench.kb_ids()) == sorted(ids)


def test_promote_without_a_live_canary_says_so_with_detail_and_hint(bench: Bench) -> None:
    bench.manifest(checks=BRANCH + CHECKS)
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    refused = bench.run("promote", "-e", "staging")
    assert refused.exit_code == ExitCode.ERROR, refused.output
    lines = refused.output.splitlines()
    assert lines[0] == "Error: No canary rollout is live for staging"
    assert lines[1].startswith("  No agent of this environment has a kbctl branch")
    assert lines[-1].startswith("Hint: `kbctl status -e staging` shows a rollout in progress")
