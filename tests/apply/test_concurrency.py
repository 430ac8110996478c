"""`--concurrency`: "auto" (the default) finds the server's limit; a number is a hard cap.

Against the emulator's `max_concurrency` (429 `too_many_concurrent_requests` beyond N requests in
flight) on the real clock, with latency so that requests overlap as they do against the API.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kbctl.cli.main import cli
from kbctl.provider.limiter import AUTO_START
from tests.apply.conftest import docs
from tests.apply.realtime import real_rig
from tests.apply.test_cli_apply import write_doc, write_manifest

FILLER = "Opening hours, prices and the way to the station. " * 14


@pytest.fixture
def limited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository of 24 documents; the embedded emulator allows 3 requests in flight."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "ELEVENLABS_BASE_URL",
        f"emulator://{tmp_path}/emu?index_seconds=0.05&latency_ms=20&max_concurrency=3",
    )
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    (tmp_path / "manifests").mkdir()
    write_manifest(tmp_path)
    for i in range(24):
        write_doc(tmp_path, f"q{i:02d}.md", f"# Quarter {i}\n\n{FILLER}")
    return tmp_path


def _apply(*extra: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["apply", "-e", "local", "--auto-approve", "--snapshots-dir", "snaps", *extra],
        catch_exceptions=False,
    )


def _converged() -> None:
    plan = CliRunner().invoke(cli, ["plan", "-e", "local", "--detailed-exitcode"])
    assert plan.exit_code == 0, plan.output


def test_auto_concurrency_settles_under_the_servers_limit_without_failing(limited: Path) -> None:
    result = _apply()  # the default is auto: it starts above the server's limit of 3
    assert result.exit_code == 0, result.output
    assert "Apply complete" in result.output
    _converged()


def test_an_explicit_concurrency_is_a_hard_cap(limited: Path) -> None:
    result = _apply("--concurrency", "3")
    assert result.exit_code == 0, result.output
    # Never more than 3 in flight, so the server never had to say 429.
    assert "429" not in result.output and "too_many_concurrent" not in result.output
    _converged()


def test_auto_cuts_its_limit_on_429s_and_a_number_is_never_exceeded() -> None:
    auto = real_rig(client_concurrency=None, latency_ms=20, index_seconds=0.05, max_concurrency=3)
    try:
        target = auto.target(docs(30))
        auto.apply(target, concurrency=None)
        assert auto.app.peak_inflight <= 3
        throttled = auto.app.injected.get("max_concurrency", 0)
        assert throttled > 0  # 8 workers start at once against a limit of 3
        assert auto.client.limiter.cuts > 0 and auto.client.limiter.lowest < AUTO_START
        assert auto.client.limiter.lowest <= 4  # cut to about the server's limit
    finally:
        auto.close()
    fixed = real_rig(client_concurrency=2, latency_ms=20, index_seconds=0.05)
    try:
        fixed.apply(fixed.target(docs(30)), concurrency=2)
        assert fixed.app.peak_inflight <= 2
        assert fixed.client.limiter.limit <= 2
    finally:
        fixed.close()


def test_auto_uses_more_than_the_old_default_when_the_server_allows_it() -> None:
    rig = real_rig(client_concurrency=None, latency_ms=50, index_seconds=0.05)
    try:
        rig.apply(rig.target(docs(40)), concurrency=None)
        assert rig.client.limiter.cuts == 0 and rig.client.limiter.limit >= AUTO_START
        # Eight upload workers at once, each request 50 ms on the wire: they overlap.
        assert rig.app.peak_inflight > 4
    finally:
        rig.close()


def test_auto_settles_just_under_the_servers_concurrency_limit() -> None:
    rig = real_rig(client_concurrency=None, latency_ms=20, index_seconds=0.05, max_concurrency=7)
    try:
        rig.apply(rig.target(docs(60)), concurrency=None)
        limiter = rig.client.limiter
        assert rig.app.injected.get("max_concurrency", 0) > 0  # it did probe past 7
        # `too_many_concurrent_requests` says the others were taken: cut to about 7, not 8 // 2.
        assert limiter.cuts > 0 and limiter.lowest >= 5
    finally:
        rig.close()
