"""`rollback --to previous` after runs that were killed, interrupted or only cleaned up.

`previous` is the state the agent had before the last run that actually changed it. Each test
builds one interleaving: a run is killed (what `kill -9` leaves: the snapshot folder as it was
at that instant, the workspace as the requests left it) right before or right after a chosen
request, then `kbctl rollback -e staging --to previous` runs through the CLI.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import httpx
import pytest

from kbctl.apply import ApplyOptions, apply_agent_plan, ignore
from kbctl.errors import InterruptedRunError
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient
from kbctl.snapshots.hook import SnapshotHook
from kbctl.snapshots.record import IN_PROGRESS, INTERRUPTED
from kbctl.snapshots.rollback import plan_rollback, prepare_rollback
from kbctl.stop import StopSignal
from tests.apply.interleave import Interleaver
from tests.snapshots.kit import API_KEY, Bench, text_of

PATCH_AGENT = r"^/v1/convai/agents/agent_staging$"
DELETE_DOC = r"^/v1/convai/knowledge-base/[^/]+$"
KbState = set[tuple[str | None, str | None, str]]


class Killed(BaseException):
    """The process died (nothing may catch it)."""


def version(bench: Bench, n: int) -> None:
    """Manifest version n: `a` changes every version, `b<n>` is new each time."""
    bench.manifest({"a": text_of(f"alpha v{n}"), f"b{n}": text_of(f"bravo v{n}")})


def killed(bench: Bench, method: str, path: str, *, after: bool, rollback_to: str = "") -> None:
    """Apply the manifest (or roll back to `rollback_to`) and "kill" the run at one request.

    The snapshot folder is put back as it was at that instant (a kill leaves no final record);
    the workspace keeps what the requests did up to there.
    """
    frozen = bench.root / "frozen"

    def kill(_: str) -> None:
        while True:  # other workers may be rewriting the checkpoint: copy a consistent folder
            try:
                shutil.copytree(bench.store.root, frozen)
                break
            except OSError:  # shutil.Error, or a file renamed away while it was listed
                shutil.rmtree(frozen, ignore_errors=True)
        raise Killed

    with pytest.raises(Killed):
        _run(bench, (method, path, after, kill), rollback_to, StopSignal())
    shutil.rmtree(bench.store.root)
    shutil.move(frozen, bench.store.root)
    bench.clock.advance(5)


def interrupted(
    bench: Bench, method: str, path: str, *, after: bool, rollback_to: str = ""
) -> None:
    """Like `killed`, but a SIGINT: the run stops at its next safe point and records it."""
    stop = StopSignal()
    with pytest.raises(InterruptedRunError):
        _run(bench, (method, path, after, lambda _: stop.request()), rollback_to, stop)
    newest = bench.store.snapshots("staging")[0]
    assert newest.outcome == INTERRUPTED
    bench.clock.advance(5)


def _run(
    bench: Bench,
    trigger: tuple[str, str, bool, Callable[[str], None]],
    rollback_to: str,
    stop: StopSignal,
) -> None:
    method, path, after, action = trigger
    layer = Interleaver(bench.app)
    (layer.after if after else layer.before)(method, path, action)
    client = ApiClient(
        "https://emulator.kbctl.test",
        API_KEY,
        bench.clock,
        transport=httpx.WSGITransport(app=layer),
    )
    provider = ElevenLabsProvider(client)
    if rollback_to:
        prepared = prepare_rollback(bench.store, rollback_to, "staging", [bench.target()])
        planned = plan_rollback(prepared, provider)
        plan, target = planned.plan.agents[0], planned.desired
        hook = SnapshotHook(
            bench.store,
            bench.clock,
            provider,
            operation="rollback",
            rollback_of=prepared.snapshot.id,
        )
    else:
        target = bench.target()
        plan = bench.plan()
        hook = SnapshotHook(bench.store, bench.clock, provider)
    try:
        apply_agent_plan(
            plan,
            target,
            provider,
            bench.clock,
            events=ignore,
            options=ApplyOptions(poll_initial=1.0, poll_max=2.0, stop=stop),
            hook=hook,
        )
    finally:
        client.close()


def rollback_previous(bench: Bench) -> str:
    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    assert out.exit_code == 0, out.output
    return out.output


def three_versions(bench: Bench) -> tuple[KbState, KbState]:
    """v0 and v1 applied; returns their states. The manifest is then at v2, not applied."""
    version(bench, 0)
    bench.apply()
    v0 = bench.kb_state()
    version(bench, 1)
    bench.apply()
    v1 = bench.kb_state()
    version(bench, 2)
    return v0, v1


def test_killed_after_its_patch_landed_previous_is_that_runs_before(bench: Bench) -> None:
    _, v1 = three_versions(bench)
    killed(bench, "PATCH", PATCH_AGENT, after=True)  # the answer of the PATCH never arrived
    assert bench.kb_state() != v1  # the agent serves v2
    newest = bench.store.snapshots("staging")[0]
    assert newest.outcome == IN_PROGRESS and not newest.done.agent_updated
    rollback_previous(bench)
    assert bench.kb_state() == v1  # not the state before v1


def test_killed_before_its_patch_left_the_agent_so_previous_undoes_v1(bench: Bench) -> None:
    v0, v1 = three_versions(bench)
    killed(bench, "PATCH", PATCH_AGENT, after=False)
    assert bench.kb_state() == v1  # the PATCH never left
    rollback_previous(bench)
    assert bench.kb_state() == v0


def test_killed_during_its_deletions_previous_is_that_runs_before(bench: Bench) -> None:
    _, v1 = three_versions(bench)
    killed(bench, "DELETE", DELETE_DOC, after=False)
    rollback_previous(bench)
    assert bench.kb_state() == v1


def test_a_clean_up_run_after_a_killed_one_is_not_a_change(bench: Bench) -> None:
    _, v1 = three_versions(bench)
    killed(bench, "PATCH", PATCH_AGENT, after=True)
    v2 = bench.kb_state()
    result, _ = bench.apply()  # the rerun: nothing to swap, only v1's leftovers to delete
    assert not result.agent_updated and result.deleted
    assert bench.kb_state() == v2
    rollback_previous(bench)
    assert bench.kb_state() == v1


def test_a_killed_rollback_resumes_toward_its_target_then_previous_flips_again(
    bench: Bench,
) -> None:
    _, v1 = three_versions(bench)
    bench.apply()
    v2 = bench.kb_state()
    # The rollback to v1 is killed while deleting v2's documents (after its PATCH).
    killed(bench, "DELETE", DELETE_DOC, after=False, rollback_to="previous")
    assert bench.kb_state() == v1
    out = rollback_previous(bench)  # resumes: it finishes the clean-up, does not go back to v2
    assert bench.kb_state() == v1
    assert "Rolling back" in out
    rollback_previous(bench)  # that rollback finished: previous now undoes it
    assert bench.kb_state() == v2


def test_a_rollback_killed_before_its_patch_resumes_toward_its_target(bench: Bench) -> None:
    v0, v1 = three_versions(bench)
    bench.apply()
    v2 = bench.kb_state()
    first = bench.store.snapshots("staging")[1]  # v2's before: the state v1 left
    killed(bench, "PATCH", PATCH_AGENT, after=False, rollback_to="previous")
    assert bench.kb_state() == v2
    rollback_previous(bench)
    assert bench.kb_state() == v1
    newest = bench.store.snapshots("staging")[0]
    assert newest.rollback_of == first.id
    assert v0 != v1


def test_a_rollback_killed_after_its_patch_resumes_rather_than_flipping_back(
    bench: Bench,
) -> None:
    _, v1 = three_versions(bench)
    bench.apply()
    killed(bench, "PATCH", PATCH_AGENT, after=True, rollback_to="previous")
    assert bench.kb_state() == v1
    rollback_previous(bench)
    assert bench.kb_state() == v1  # the resumed rollback keeps v1 (and cleans up)


def test_an_apply_interrupted_after_its_patch_is_the_run_previous_undoes(bench: Bench) -> None:
    _, v1 = three_versions(bench)
    interrupted(bench, "PATCH", PATCH_AGENT, after=True)  # stops before its deletions
    assert bench.kb_state() != v1
    rollback_previous(bench)
    assert bench.kb_state() == v1


def test_an_apply_interrupted_before_its_patch_changed_nothing(bench: Bench) -> None:
    v0, v1 = three_versions(bench)
    interrupted(bench, "POST", r"/knowledge-base/text$", after=True)  # while uploading
    assert bench.kb_state() == v1
    rollback_previous(bench)
    assert bench.kb_state() == v0


def test_a_rollback_interrupted_after_its_patch_resumes_toward_its_target(bench: Bench) -> None:
    _, v1 = three_versions(bench)
    bench.apply()
    v2 = bench.kb_state()
    interrupted(bench, "PATCH", PATCH_AGENT, after=True, rollback_to="previous")
    assert bench.kb_state() == v1  # swapped back; v2's documents not yet deleted
    rollback_previous(bench)  # continues (the clean-up), does not flip back to v2
    assert bench.kb_state() == v1
    rollback_previous(bench)
    assert bench.kb_state() == v2


def test_a_run_that_left_no_record_is_seen_from_the_live_agent(bench: Bench) -> None:
    """v2 ran (a CI job whose snapshots were never committed): previous is v1's state."""
    _, v1 = three_versions(bench)
    target = bench.target()
    apply_agent_plan(
        bench.plan(),
        target,
        bench.provider,
        bench.clock,
        events=ignore,
        options=ApplyOptions(poll_initial=1.0, poll_max=2.0),
    )  # no snapshot hook
    assert bench.kb_state() != v1
    rollback_previous(bench)
    assert bench.kb_state() == v1


def test_a_change_by_hand_is_not_a_run(bench: Bench) -> None:
    v0, _ = three_versions(bench)
    agent = bench.world.agent("agent_staging")
    assert agent is not None
    bench.world.set_knowledge_base("agent_staging", list(agent.knowledge_base)[:-1])
    rollback_previous(bench)  # still the state before the last kbctl run: v0
    assert bench.kb_state() == v0
