"""The embedded emulator has one writer per folder: a second process opening the same
`emulator://PATH` (or `kbctl emulator serve --state PATH`) is refused with a clear error while
the first holds it, instead of both writing and losing changes."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl import commands
from kbctl.cli.main import cli
from kbctl.clock import FakeClock
from kbctl.commands import Session
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


def _free(folder: Path) -> bool:
    """Whether another process could take the folder's lock now (flock locks belong to an open
    file, so a second open in this process conflicts with a lock this process holds)."""
    fd = os.open(folder / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)  # closing the descriptor drops a lock taken through it
    return True


def test_a_sigkilled_holder_leaves_the_folder_to_the_next_process(
    holder: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, folder = holder
    assert not _free(folder)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=20) == -signal.SIGKILL
    # The lock file still names the dead process; the kernel dropped its lock with it.
    assert (folder / LOCK_FILE).read_text().strip() == str(proc.pid)
    app = open_emulator(f"emulator://{folder}", FakeClock())
    try:
        assert [d.name for d in app.world.documents()] == ["from the holder"]
    finally:
        app.close()


def test_an_in_process_command_gives_the_folder_up_when_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "emu"
    (tmp_path / "kb.yaml").write_text(
        "version: 1\nproject: p\ndocuments: []\n"
        f"environments:\n  local:\n    agent_id: agent_1\n    base_url: emulator://{folder}\n"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["plan", "-e", "local", "-f", "kb.yaml"])
    assert result.exit_code == 0, result.output
    assert _free(folder)  # a `kbctl` started now (or by a test) may use it

    session = Session(FakeClock(), cwd=tmp_path)
    commands.plan(session, "local", ["kb.yaml"])
    assert not _free(folder)
    session.close()
    assert _free(folder)
