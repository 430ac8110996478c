"""The API as it really behaves (reference §16.3), end to end through the CLI and the real
client against the emulator's behaviour flags: an index status newer than kbctl, small URL
documents decided by the server, and the dependency lag after the swap."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from kbctl.emulator import EmulatorConfig
from kbctl.model import IndexStatus
from tests.snapshots.kit import Bench, make_bench, text_of

MODEL = "multilingual_e5_large_instruct"
URL = "https://example.com/faq"

MakeBench = Callable[..., Bench]


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeBench]:
    with ExitStack() as stack:

        def build(**settings: object) -> Bench:
            config = EmulatorConfig(**{"index_seconds": 3.0, **settings})  # type: ignore[arg-type]
            gen = make_bench(tmp_path, monkeypatch, config)
            bench = next(gen)
            stack.callback(lambda: next(gen, None))
            return bench

        yield build


def _apply(bench: Bench) -> tuple[int, str]:
    out = bench.run("apply", "-e", "staging", "--auto-approve")
    bench.clock.advance(5)
    return out.exit_code, out.output


def _plan_code(bench: Bench) -> int:
    return bench.run("plan", "-e", "staging", "--detailed-exitcode").exit_code


def test_an_unknown_index_status_is_waited_for(make: MakeBench) -> None:
    bench = make(index_pending_status="queued")
    bench.manifest({"a": text_of("a"), "b": text_of("b")}, url=None)
    code, output = _apply(bench)
    assert code == 0, output
    for entry in bench.entries():
        if entry.usage_mode == "auto":
            assert bench.provider.index_state(entry.id, MODEL).status is IndexStatus.SUCCEEDED
    assert _plan_code(bench) == 0


def test_an_unknown_status_past_the_timeout_stops_at_the_gate_naming_it(make: MakeBench) -> None:
    bench = make(index_pending_status="queued", index_seconds=600.0)
    bench.manifest({"a": text_of("a")}, url=None, policy="index_timeout: 20")
    code, output = _apply(bench)
    assert code == 3, output
    assert "docs/a.md: timeout (still queued)" in output
    assert "a status this kbctl does not know" in output
    assert bench.entries() == []  # the agent was not changed


def test_a_small_url_document_is_attached_in_prompt_mode_under_policy_prompt(
    make: MakeBench,
) -> None:
    bench = make(url_content_bytes=100)
    bench.manifest({"a": text_of("a")}, url=URL, policy="small_documents: prompt")
    code, output = _apply(bench)
    assert code == 0, output
    assert "the API answered document_too_small" in output
    assert "attached with usage_mode prompt" in output
    modes = {e.key: e.usage_mode for e in bench.entries()}
    assert modes == {"docs/a.md": "auto", "rules": "prompt", URL: "prompt"}
    out = bench.run("plan", "-e", "staging", "--detailed-exitcode", "--format", "json")
    assert out.exit_code == 0, out.output  # the server's verdict is remembered, not re-tried
    findings = json.loads(out.output)["agents"][0]["findings"]
    assert any(f["code"] == "small_document" and URL in f["message"] for f in findings)


def test_a_small_url_document_is_left_out_under_policy_skip(make: MakeBench) -> None:
    bench = make(url_content_bytes=100)
    bench.manifest({"a": text_of("a")}, url=URL, policy="small_documents: skip")
    code, output = _apply(bench)
    assert code == 0, output
    assert "left out of the knowledge base (policy small_documents: skip)" in output
    assert URL not in {e.key for e in bench.entries()}
    assert not [d for d in bench.world.documents() if d.name.startswith(URL)]


def test_a_small_url_document_stops_the_gate_under_policy_fail(make: MakeBench) -> None:
    bench = make(url_content_bytes=100)
    bench.manifest({"a": text_of("a")}, url=URL, policy="small_documents: fail")
    code, output = _apply(bench)
    assert code == 3, output
    assert f"{URL}: document_too_small" in output
    assert "policy.small_documents is fail" in output  # the hint matches the policy in force
    assert "set policy.small_documents to prompt or skip" in output
    assert bench.entries() == []


def test_deletes_ride_out_the_dependency_lag(make: MakeBench) -> None:
    bench = make(dependency_lag_seconds=3.0)
    bench.manifest({"a": text_of("a"), "b": text_of("b")}, url=None)
    assert _apply(bench)[0] == 0
    old = {e.key: e.id for e in bench.entries()}["docs/a.md"]
    bench.manifest({"a": text_of("a, changed"), "b": text_of("b")}, url=None)
    code, output = _apply(bench)
    assert code == 0, output
    assert bench.world.document(old) is None  # the superseded document is gone
    managed = [d for d in bench.world.documents() if "kbctl:" in d.name]
    assert len(managed) == 3  # a (new), b, rules: nothing left over
    assert _plan_code(bench) == 0


def test_a_delete_still_refused_after_delete_wait_is_pending_cleanup(make: MakeBench) -> None:
    """Past `policy.delete_wait` the superseded document stays: the next plan shows it as
    pending cleanup but exits 0, and the next apply deletes it."""
    bench = make(dependency_lag_seconds=120.0)
    bench.manifest({"a": text_of("a")}, url=None, policy="delete_wait: 5")
    assert _apply(bench)[0] == 0
    old = {e.key: e.id for e in bench.entries()}["docs/a.md"]
    bench.manifest({"a": text_of("a, changed")}, url=None, policy="delete_wait: 5")
    code, output = _apply(bench)
    assert code == 0, output
    assert "dependency cache lags" in output
    assert bench.world.document(old) is not None
    plan = bench.run("plan", "-e", "staging", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert "Pending cleanup: 1 orphan to delete" in plan.output
    bench.clock.advance(200)
    assert _apply(bench)[0] == 0
    assert bench.world.document(old) is None
