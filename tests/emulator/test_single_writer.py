"""The embedded emulator has one writer per folder: a second process opening the same
`emulator://PATH` (or `kbctl emulator serve --state PATH`) is refused with a clear error while
the first holds it, instead of both writing and losing changes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import open_emulator
from kbctl.emulator.workspace.folder_lock import LOCK_FILE
from kbctl.errors import UsageError

HOLDER = """
import sys
from kbctl.clock import FakeClock
from kbctl.emulator import open_emulator
app = open_emulator(sys.argv[1], FakeClock())
app.world.add_document("text", "from the holder", "kept")
app.world.flush()
print("ready", flush=True)
sys.stdin.readline()
app.close()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    folder = tmp_path / "emu"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"emulator://{folder}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield proc, folder
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=20)


def test_a_second_process_is_refused_then_served(
    holder: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, folder = holder
    with pytest.raises(UsageError) as refused:
        open_emulator(f"emulator://{folder}", FakeClock())
    assert "in use by another process" in refused.value.summary
    assert f"process {proc.pid}" in refused.value.summary
    assert refused.value.hint and "kbctl emulator serve" in refused.value.hint
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=20) == 0
    app = open_emulator(f"emulator://{folder}", FakeClock())  # free again, nothing lost
    try:
        assert [d.name for d in app.world.documents()] == ["from the holder"]
    finally:
        app.close()


def test_serve_on_a_held_folder_exits_1_with_the_reason(
    holder: tuple[subprocess.Popen[str], Path],
) -> None:
    _, folder = holder
    done = subprocess.run(
        [sys.executable, "-m", "kbctl", "emulator", "serve", "--port", "0", "--state", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "is in use by another process" in done.stderr
    assert "Traceback" not in done.stderr


def test_one_process_may_open_a_folder_twice(tmp_path: Path) -> None:
    url = f"emulator://{tmp_path}/emu"
    first = open_emulator(url, FakeClock())
    second = open_emulator(url, FakeClock())
    assert (tmp_path / "emu" / LOCK_FILE).exists()
    first.close()
    second.close()
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            HOLDER.replace('print("ready", flush=True)\nsys.stdin.readline()', ""),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr  # released once both were closed
