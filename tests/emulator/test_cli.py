"""`kbctl emulator serve`: its flags, the URL it prints, persistence and signal handling."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli

FLAGS = {
    "--host", "--port", "--state", "--api-key", "--agent", "--index-seconds",
    "--min-index-bytes", "--rag-quota-bytes", "--latency-ms", "--max-concurrency",
    "--fail-rate", "--fail-index-containing", "--vector-store", "--seed", "--verbose", "--help",
    "--index-pending-status", "--url-content-bytes", "--dependency-lag-seconds",
    "--rename-propagates", "--keep-indexes-on-edit", "--protect-main", "--no-rag-query",
}  # fmt: skip


def test_serve_help_lists_the_contract_flags() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--help"])
    assert result.exit_code == 0, result.output
    assert set(re.findall(r"(--[a-z-]+)", result.output)) == FLAGS


def test_every_serve_option_has_help() -> None:
    from kbctl.cli.cmd_emulator import emulator_group

    serve_cmd = emulator_group.commands["serve"]
    for param in serve_cmd.params:
        assert getattr(param, "help", None), param.name


def test_invalid_settings_are_reported() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--fail-rate", "3", "--port", "0"])
    assert result.exit_code == 1
    assert "fail_rate must be between 0 and 1" in result.output
    assert "Hint: Fix the values named above" in result.output


def test_a_busy_port_is_a_usage_error_not_a_crash(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        state = tmp_path / "state"
        result = CliRunner().invoke(
            cli, ["emulator", "serve", "--port", str(port), "--state", str(state)]
        )
    assert result.exit_code == 1, result.output
    assert f"Cannot listen on 127.0.0.1:{port}" in result.output
    assert "internal error" not in result.output
    assert "Hint:" in result.output
    # The state folder it opened was closed again: another process may serve it.
    proc, _ = serve(state)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


@pytest.mark.parametrize("port", ["65536", "-1"])
def test_a_port_out_of_range_is_a_usage_error(port: str) -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--port", port])
    assert result.exit_code == 1, result.output
    assert "not in the range 0<=x<=65535" in result.output


def serve(state: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable,
        "-m",
        "kbctl",
        "emulator",
        "serve",
        "--port",
        "0",
        "--state",
        str(state),
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
    return proc, url


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_persists_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    state = tmp_path / "state"
    proc, url = serve(state, "--agent", "agent_one", "--agent", "agent_two", "--api-key", "k1")
    try:
        headers = {"xi-api-key": "k1"}
        agents = httpx.get(f"{url}/v1/convai/agents", headers=headers).json()["agents"]
        assert {a["agent_id"] for a in agents} == {"agent_one", "agent_two"}
        assert httpx.get(f"{url}/v1/convai/agents", headers={"xi-api-key": "no"}).status_code == 401
        doc = httpx.post(
            f"{url}/v1/convai/knowledge-base/text", json={"text": "kept"}, headers=headers
        ).json()["id"]
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err
    snapshot = json.loads((state / "state.json").read_text())
    assert snapshot["documents"][doc]["text"] == "kept"

    proc, url = serve(state, "--agent", "agent_one")  # existing agent: kept, not re-created
    try:
        agent = httpx.get(f"{url}/v1/convai/agents/agent_one", headers={"xi-api-key": "x"}).json()
        assert agent["agent_id"] == "agent_one"
        versions = snapshot["agents"]["agent_one"]["branches"][0]["version_ids"]
        assert agent["version_id"] == versions[-1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def test_serve_flags_for_live_behaviours(tmp_path: Path) -> None:
    proc, url = serve(
        tmp_path / "state",
        "--agent",
        "agent_one",
        "--index-seconds",
        "0",
        "--url-content-bytes",
        "100",
        "--protect-main",
        "--no-rag-query",
        "--index-pending-status",
        "queued",
        "--dependency-lag-seconds",
        "30",
        "--rename-propagates",
        "--keep-indexes-on-edit",
    )
    headers = {"xi-api-key": "x"}
    try:
        with httpx.Client(base_url=url, headers=headers) as c:
            doc = c.post("/v1/convai/knowledge-base/url", json={"url": "https://a.example"})
            doc_id = doc.json()["id"]
            detail = c.get(f"/v1/convai/knowledge-base/{doc_id}").json()
            assert detail["metadata"]["size_bytes"] == 100
            index = c.post(
                f"/v1/convai/knowledge-base/{doc_id}/rag-index",
                json={"model": "e5_mistral_7b_instruct"},
            )
            assert index.json()["status"] == "document_too_small"
            patch = c.patch("/v1/convai/agents/agent_one", json={"name": "x"})
            assert patch.status_code == 403
            query = c.post(
                "/v1/convai/agents/agent_one/knowledge-base/rag-query", json={"query": "a"}
            )
            assert query.status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
