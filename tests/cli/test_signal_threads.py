"""A SIGINT the kernel hands to one of kbctl's threads, not the main one, still stops apply.

CPython runs a signal's Python handler in the main thread, at its next bytecode: a main thread
blocked in an untimed wait for the index gate's poller would hold SIGINT off until the gate
ends. Here the signal goes to the gate's own thread (`pthread_kill`), as the kernel may send
it; the gate's timeout is short, so without the fix the run ends at the gate (exit 3) instead
of being stopped (exit 130). It runs in a process of its own: a signal handled in the middle
of an import can upset the interpreter's import locks, which must not leak into other tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kbctl.errors import ExitCode
from tests.cli.test_plan_cli import write_project

DRIVER = """
import signal, sys, threading, time
from kbctl.cli.main import cli

def send():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        gate = next((t for t in threading.enumerate() if t.name == "kbctl-gate"), None)
        if gate is not None and gate.ident is not None:
            time.sleep(0.5)  # the gate is waiting on its indexes by now
            signal.pthread_kill(gate.ident, signal.SIGINT)  # that thread, not the process
            return
        time.sleep(0.02)

threading.Thread(target=send, daemon=True).start()
cli.main(["apply", "-e", "local", "--auto-approve"], prog_name="kbctl")
"""


def test_sigint_handed_to_the_gate_thread_stops_the_run(tmp_path: Path) -> None:
    manifest = write_project(tmp_path, "alpha", "agent_alpha", "alpha", 3)
    manifest.write_text(
        manifest.read_text().replace("documents:", "policy:\n  index_timeout: 8\ndocuments:", 1)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELEVENLABS_", "GITHUB_"))}
    env["ELEVENLABS_BASE_URL"] = f"emulator://{tmp_path}/emu?index_seconds=3600"
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == ExitCode.INTERRUPTED, proc.stdout + proc.stderr
    assert "stopped by SIGINT" in proc.stderr
    assert "Traceback" not in proc.stderr
