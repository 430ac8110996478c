"""A SIGINT the kernel hands to one of kbctl's threads, not the main one, still stops apply.

CPython runs a signal's Python handler in the main thread, at its next bytecode: a main thread
blocked in an untimed wait for the index gate's poller would hold SIGINT off until the gate
ends. Here the signal goes to the gate's own thread (`pthread_kill`), as the kernel may send
it; the gate's timeout is short, so without the fix the run ends at the gate (exit 3) instead
of being stopped (exit 130).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli
from kbctl.errors import ExitCode
from tests.cli.test_plan_cli import write_project
from tests.harness import offline


def _signal_the_gate_thread(done: threading.Event) -> None:
    """Once the gate's poller runs, send SIGINT to that thread (not to the process)."""
    deadline = time.monotonic() + 60
    while not done.is_set() and time.monotonic() < deadline:
        gate = next((t for t in threading.enumerate() if t.name == "kbctl-gate"), None)
        if gate is not None and gate.ident is not None:
            time.sleep(0.5)  # the gate is waiting on its indexes by now
            signal.pthread_kill(gate.ident, signal.SIGINT)
            return
        time.sleep(0.02)


def test_sigint_handed_to_the_gate_thread_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(tmp_path, monkeypatch)
    monkeypatch.setenv("ELEVENLABS_BASE_URL", f"emulator://{tmp_path}/emu?index_seconds=3600")
    manifest = write_project(tmp_path, "alpha", "agent_alpha", "alpha", 3)
    manifest.write_text(
        manifest.read_text().replace("documents:", "policy:\n  index_timeout: 8\ndocuments:", 1)
    )
    done = threading.Event()
    sender = threading.Thread(target=_signal_the_gate_thread, args=(done,))
    sender.start()
    try:
        result = CliRunner().invoke(cli, ["apply", "-e", "local", "--auto-approve"])
    finally:
        done.set()
        sender.join()
    assert result.exit_code == ExitCode.INTERRUPTED, result.output
    assert "stopped by SIGINT" in result.output
