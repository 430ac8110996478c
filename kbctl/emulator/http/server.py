"""The socket way in: the emulator on a stdlib `wsgiref` server with a thread per request,
quiet by default, stopping cleanly (state saved) on SIGTERM/SIGINT.

Owns the server lifecycle. Must not implement API behaviour (the app does) nor parse command
lines (`kbctl.cli.cmd_emulator` does), and never picks a clock itself: the command passes the
system clock (it serves real clients), tests may pass another.
"""

from __future__ import annotations

import signal
import socketserver
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from kbctl.clock import Clock
from kbctl.emulator.config import EmulatorConfig
from kbctl.emulator.http.app import EmulatorApp
from kbctl.emulator.openai import open_openai
from kbctl.emulator.workspace.persistence import Store
from kbctl.emulator.workspace.world import World


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    verbose = False

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away mid-answer is not worth a traceback."""
        if self.verbose:
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _QuietHandler(WSGIRequestHandler):
    timeout = 30  # a stalled client cannot hold a thread forever
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    verbose = False

    def log_message(self, format: str, *args: object) -> None:
        if self.verbose:
            super().log_message(format, *args)


class EmulatorServer:
    """An `EmulatorApp` served on `host:port` (port 0 picks a free one) from a background
    thread. `start()`, read `url`, `stop()` (saves the state)."""

    def __init__(
        self, app: EmulatorApp, host: str = "127.0.0.1", port: int = 8765, verbose: bool = False
    ) -> None:
        handler = type("Handler", (_QuietHandler,), {"verbose": verbose})
        self.app = app
        self._server = make_server(
            host, port, app, server_class=_ThreadingServer, handler_class=handler
        )
        self._server.verbose = verbose
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """`http://HOST:PORT` with the real port."""
        sockname = self._server.socket.getsockname()
        host, port = str(sockname[0]), int(sockname[1])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> None:
        """Serve from a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close the socket, save the state."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()
        self.app.close()

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build_app(
    config: EmulatorConfig, clock: Clock, state: Path | None, agents: Sequence[str] = ()
) -> EmulatorApp:
    """An emulator on `clock`, persisted in `state` if given, with `agents` ensured to exist."""
    world = World(config, clock)
    if state is not None:
        world.attach_store(Store(state))
    for agent_id in agents:
        world.ensure_agent(agent_id)
    world.flush()
    return EmulatorApp(world, open_openai(config, world.clock, state))


def run_server(
    config: EmulatorConfig,
    clock: Clock,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    state: Path | None = None,
    agents: Sequence[str] = (),
    verbose: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT, then save and return 0. Prints the URL on `out`."""
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    server = EmulatorServer(build_app(config, clock, state, agents), host, port, verbose)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        stdout.write(server.url + "\n")
        stdout.flush()
        where = f"state in {state}" if state is not None else "state in memory only"
        stderr.write(f"kbctl emulator listening on {server.url} ({where}); stop with Ctrl-C\n")
        stderr.flush()
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stderr.write("kbctl emulator stopped; state saved\n" if state else "kbctl emulator stopped\n")
    stderr.flush()
    return 0
