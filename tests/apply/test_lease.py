"""One apply at a time per agent: the lease in the live workspace (see `kbctl.apply.lease`).

Two overlapping runs are built by starting the second one from inside a request of the first
(`interleave.py`), through a second client of the same emulator: the real provider code on both
sides, nothing of kbctl's replaced.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kbctl.apply import ApplyOptions, ApplyResult, RecordingEvents, apply_agent_plan
from kbctl.apply.lease import PREFIX, TTL, this_process
from kbctl.clock import utc_iso
from kbctl.errors import ConcurrentChangeError, ExitCode, StalePlanError
from kbctl.model import Target
from kbctl.plan.planner import plan_target
from kbctl.provider.elevenlabs import ElevenLabsProvider
from tests.apply.conftest import Workspace, WorkspaceFactory, docs
from tests.apply.interleave import interleaved_provider, other_provider
from tests.snapshots.kit import STAGING_AGENT, Bench, make_bench, text_of

PATCH_AGENT = r"^/v1/convai/agents/agent_1$"
CREATE_TEXT = "POST /v1/convai/knowledge-base/text"
PATCH_AGENT_ROUTE = "PATCH /v1/convai/agents/{agent_id}"


def run(
    ws: Workspace,
    provider: ElevenLabsProvider,
    target: Target,
    *,
    run_id: str | None = None,
    commit: str | None = None,
) -> ApplyResult:
    live = provider.read_state(target.agent_id, target.project, target.environment)
    return apply_agent_plan(
        plan_target(target, live),
        target,
        provider,
        ws.clock,
        events=RecordingEvents(),
        options=ApplyOptions(run_id=run_id, commit=commit),
    )


def leases(ws: Workspace) -> list[str]:
    return [d.name for d in ws.world.documents() if d.name.startswith(PREFIX)]


def lease_name(
    ws: Workspace, *, run: str, until: float, host: str = "ci-runner-7", pid: int = 4242
) -> str:
    return (
        f"{PREFIX}{ws.agent_id} · run {run} · until {utc_iso(until)} · birby/local"
        f" · commit 0123456789ab · plan fedcba987654 · {host}:{pid}"
    )


def test_a_second_apply_while_the_first_holds_the_lease_exits_4_naming_the_first(
    ws: Workspace,
) -> None:
    ws.apply(ws.target(docs(3)))
    provider_a, layer = interleaved_provider(ws)
    lost: list[ConcurrentChangeError] = []
    uploads: list[int] = []

    def second_run(_: str) -> None:
        uploads.append(ws.calls(CREATE_TEXT))
        with pytest.raises(ConcurrentChangeError) as info:
            run(ws, other_provider(ws), ws.target(docs(3, version=2)), run_id="bbbb2222")
        lost.append(info.value)
        uploads.append(ws.calls(CREATE_TEXT))

    layer.before("PATCH", PATCH_AGENT, second_run)  # B starts while A is about to write
    result = run(
        ws, provider_a, ws.target(docs(3, version=1)), run_id="aaaa1111", commit="c0ffee" * 7
    )
    assert result.agent_updated  # A wins and reports success
    (err,) = lost
    assert err.exit_code == ExitCode.STALE
    assert "run aaaa1111 holds its lease" in err.summary
    assert "commit c0ffeec0ffee" in (err.detail or "")
    assert "This run changed nothing" in (err.detail or "")
    assert uploads[0] == uploads[1]  # B uploaded nothing
    ws.assert_converged(ws.target(docs(3, version=1)))  # A's state, and nothing of B's left
    assert leases(ws) == []  # both leases are gone


def test_a_run_that_starts_while_another_uploads_changes_nothing(ws: Workspace) -> None:
    provider_a, layer = interleaved_provider(ws)
    outcomes: list[str] = []

    def second_run(_: str) -> None:
        agent_patches = ws.calls(PATCH_AGENT_ROUTE)
        try:
            run(ws, other_provider(ws), ws.target(docs(2, version=9)))
            outcomes.append("applied")
        except ConcurrentChangeError:
            outcomes.append("lost")
        assert ws.calls(PATCH_AGENT_ROUTE) == agent_patches

    layer.after("POST", r"/knowledge-base/text$", second_run, nth=2)
    run(ws, provider_a, ws.target(docs(4)))
    assert outcomes == ["lost"]
    ws.assert_converged(ws.target(docs(4)))


@pytest.mark.parametrize("when", ["before", "after"])
def test_two_runs_taking_the_lease_at_once_never_both_hold_it(ws: Workspace, when: str) -> None:
    """B takes the lease right before or right after A creates its own: exactly one wins."""
    provider_a, layer = interleaved_provider(ws)
    results: dict[str, str] = {}

    def second_run(_: str) -> None:
        try:
            run(ws, other_provider(ws), ws.target(docs(2, version=2)), run_id="bbbb2222")
            results["b"] = "applied"
        except (ConcurrentChangeError, StalePlanError) as err:
            assert err.exit_code == ExitCode.STALE
            results["b"] = str(err)

    getattr(layer, when)("POST", r"/knowledge-base/folder$", second_run)
    try:
        run(ws, provider_a, ws.target(docs(2, version=1)), run_id="aaaa1111")
        results["a"] = "applied"
    except (ConcurrentChangeError, StalePlanError) as err:
        assert err.exit_code == ExitCode.STALE
        results["a"] = str(err)
    winners = [k for k, v in results.items() if v == "applied"]
    assert len(winners) == 1, results
    loser = "a" if winners == ["b"] else "b"
    winner_run = {"a": "aaaa1111", "b": "bbbb2222"}[winners[0]]
    assert f"run {winner_run}" in results[loser]  # the loser says which run won
    assert leases(ws) == []


def test_a_long_index_wait_keeps_the_lease(make_workspace) -> None:  # type: ignore[no-untyped-def]
    """Polls go on for several TTLs: the holder renews, so a second run is still refused."""
    ws = make_workspace(index_seconds=4 * TTL)
    provider_a, layer = interleaved_provider(ws)
    lost: list[str] = []
    started = ws.clock.now()

    def second_run(_: str) -> None:
        assert ws.clock.now() - started > 3 * TTL
        with pytest.raises(ConcurrentChangeError) as info:
            run(ws, other_provider(ws), ws.target(docs(1, version=5)))
        lost.append(info.value.summary)

    layer.before("PATCH", PATCH_AGENT, second_run)
    target = ws.target(docs(2), index_timeout=10 * TTL)
    result = run(ws, provider_a, target, run_id="aaaa1111")
    assert result.agent_updated
    assert lost and "run aaaa1111" in lost[0]
    ws.assert_converged(target)


def test_an_expired_lease_is_ignored_and_removed(ws: Workspace) -> None:
    ws.world.create_folder(lease_name(ws, run="deadbeef", until=ws.clock.now() - 1))
    result = ws.apply(ws.target(docs(2)))
    assert result.agent_updated
    assert leases(ws) == []


def test_a_live_lease_of_another_host_blocks_until_it_expires(ws: Workspace) -> None:
    ws.world.create_folder(lease_name(ws, run="c1c1c1c1", until=ws.clock.now() + TTL))
    target = ws.target(docs(2))
    with pytest.raises(ConcurrentChangeError) as info:
        ws.apply(target)
    err = info.value
    assert err.exit_code == ExitCode.STALE
    assert "run c1c1c1c1 holds its lease" in err.summary
    assert "ci-runner-7" in (err.detail or "") and "commit 0123456789ab" in (err.detail or "")
    assert "delete the folder named" in (err.hint or "")
    assert not ws.agent_ids()
    ws.clock.advance(TTL + 1)  # the other run died on its machine: its lease runs out
    assert ws.apply(target).agent_updated
    ws.assert_converged(target)


def test_a_lease_left_by_a_dead_process_on_this_host_is_taken_over_at_once(
    ws: Workspace,
) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    host, _ = this_process()
    name = lease_name(
        ws, run="0dead0ff", until=ws.clock.now() + TTL, host=host, pid=int(gone.stdout)
    )
    ws.world.create_folder(name)
    assert ws.apply(ws.target(docs(2))).agent_updated  # no waiting for the TTL (a kill -9)
    assert leases(ws) == []


def test_a_run_whose_lease_was_taken_does_not_write_the_agent(
    make_workspace: WorkspaceFactory,
) -> None:
    ws = make_workspace(index_seconds=2 * TTL)
    provider_a, layer = interleaved_provider(ws)

    def lease_removed(_: str) -> None:
        for doc in ws.world.documents():
            if doc.name.startswith(PREFIX):
                ws.world.delete_document(doc.id)

    # While A waits for its indexes (its first batch poll).
    layer.before("POST", r"/knowledge-base/rag-index$", lease_removed, nth=1)
    with pytest.raises(ConcurrentChangeError) as info:
        run(ws, provider_a, ws.target(docs(2), index_timeout=10 * TTL))
    assert "lost the apply lease" in info.value.summary
    assert not ws.agent_ids()


def test_the_agent_version_names_the_run(ws: Workspace) -> None:
    run(ws, ws.provider, ws.target(docs(1)), run_id="feed1234")
    agent = ws.world.agent(ws.agent_id)
    assert agent is not None
    assert "(run feed1234)" in str(ws.world.agent_version(ws.agent_id, agent.version_id))


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    yield from make_bench(tmp_path, monkeypatch)


def test_kbctl_apply_exits_4_and_says_which_run_holds_the_agent(bench: Bench) -> None:
    bench.manifest({"a": text_of("alpha")})
    until = utc_iso(bench.clock.now() + TTL - 30)  # renewed 30 s ago: an established holder
    name = (
        f"{PREFIX}{STAGING_AGENT} · run 5eed5eed · until {until} · demo/staging"
        " · commit 0123456789ab · plan fedcba987654 · ci-runner-7:4242"
    )
    bench.world.create_folder(name)
    writes = bench.write_calls()
    out = bench.run("apply", "-e", "staging", "--auto-approve")
    assert out.exit_code == 4, out.output
    assert "Another kbctl run is applying to agent agent_staging: run 5eed5eed" in out.output
    assert "commit 0123456789ab" in out.output and "Hint:" in out.output
    assert "Traceback" not in out.output
    assert bench.write_calls() == writes + 2  # its own lease folder, created and removed
    assert bench.entries() == []
    assert bench.store.snapshots("staging") == ()  # nothing happened, nothing to record


def test_a_long_delete_wait_lengthens_the_lease(ws: Workspace) -> None:
    """Deletions may wait out the API's dependency lag for `policy.delete_wait` without an
    event to renew on: the lease must outlast that wait."""
    base = ws.target(docs(1))
    target = replace(base, policy=replace(base.policy, delete_wait=600.0))
    provider, layer = interleaved_provider(ws)
    seen: list[str] = []
    layer.after("POST", r"/knowledge-base/folder$", lambda _: seen.extend(leases(ws)))
    run(ws, provider, target)
    (name,) = seen
    until = name.split(" · until ")[1].split(" · ")[0]
    assert until >= utc_iso(ws.clock.now() + 600.0)  # taken earlier, still valid after the wait
