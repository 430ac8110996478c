"""The socket way in: the emulator on a stdlib `wsgiref` server with a thread per connection and
HTTP/1.1 keep-alive (as the real API: a client reuses its connections), quiet by default,
stopping cleanly (state saved) on SIGTERM/SIGINT.

Owns the server lifecycle. Must not implement API behaviour (the app does) nor parse command
lines (`kbctl.cli.cmd_emulator` does), and never picks a clock itself: the command passes the
system clock (it serves real clients), tests may pass another.
"""

from __future__ import annotations

import contextlib
import io
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Sequence
from io import BufferedIOBase
from pathlib import Path
from types import FrameType
from typing import TextIO
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

from kbctl.clock import Clock
from kbctl.emulator.config import EmulatorConfig
from kbctl.emulator.http.app import EmulatorApp
from kbctl.emulator.openai import open_openai
from kbctl.emulator.workspace.persistence import Store
from kbctl.emulator.workspace.world import World
from kbctl.errors import UsageError


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    verbose = False

    def server_activate(self) -> None:
        super().server_activate()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Condition()
        #: Connections accepted so far (keep-alive means fewer connections than requests).
        self.accepted = 0

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self.connections_lock:
            self.connections.add(request)
            self.accepted += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        super().shutdown_request(request)
        with self.connections_lock:
            self.connections.discard(request)
            self.connections_lock.notify_all()

    def close_connections(self, timeout: float = 10.0) -> None:
        """Stop reading from every open connection (an idle one ends at once, one in the
        middle of a request still sends its answer) and wait until they are closed."""
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RD)
            self.connections_lock.wait_for(lambda: not self.connections, timeout)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away mid-answer is not worth a traceback."""
        if self.verbose:
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Body:
    """The request body as `wsgi.input`: exactly CONTENT_LENGTH bytes, read before the request
    is handled (`read_all`), so a body cut short by a client that went away is never handled
    as a shorter one, and the next request on the connection starts where it should."""

    def __init__(self, stream: BufferedIOBase, length: int) -> None:
        self._stream = stream
        self._left = length

    def read_all(self) -> bool:
        """Read the whole body and serve it from memory from now on; False when the connection
        ended (or stalled past the timeout) first."""
        chunks: list[bytes] = []
        try:
            while self._left > 0:
                chunk = self._stream.read(min(self._left, 1 << 20))
                if not chunk:
                    return False
                chunks.append(chunk)
                self._left -= len(chunk)
        except OSError:
            return False
        whole = b"".join(chunks)
        self._stream, self._left = io.BytesIO(whole), len(whole)
        return True

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.read(want)
        self._left -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.readline(want) if want > 0 else b""
        self._left -= len(data)
        return data

    def drain(self) -> None:
        while self._left > 0 and self.read(65536):
            pass


class _Http11Handler(ServerHandler):
    http_version = "1.1"


class _KeepAliveHandler(WSGIRequestHandler):
    """Serves requests on one connection until the client closes it, asks to (`Connection:
    close`, HTTP/1.0), stays idle past `timeout`, or sends a body without a length."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle or stalled client cannot hold a thread forever
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    verbose = False

    def handle(self) -> None:
        self.close_connection = True
        self._handle_one()
        while not self.close_connection:
            self._handle_one()

    def _handle_one(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:  # the idle timeout, or the server stopping
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():  # an error was sent, and close_connection set
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # the emulator reads bodies by Content-Length only
        length_text = (self.headers.get("Content-Length") or "0").strip()
        length = int(length_text) if length_text.isdigit() else 0
        body = _Body(self.rfile, length)
        if not body.read_all():
            # The client went away before its body arrived (a process killed mid-send): the
            # request never arrived whole, so, as at a real server, nothing is done for it.
            self.close_connection = True
            return
        environ = self.get_environ()
        handler = _Http11Handler(body, self.wfile, self.get_stderr(), environ, multithread=True)  # type: ignore[arg-type]
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]
        body.drain()
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        if self.verbose:
            super().log_message(format, *args)


class EmulatorServer:
    """An `EmulatorApp` served on `host:port` (port 0 picks a free one) from a background
    thread. `start()`, read `url`, `stop()` (saves the state)."""

    def __init__(
        self, app: EmulatorApp, host: str = "127.0.0.1", port: int = 8765, verbose: bool = False
    ) -> None:
        handler = type("Handler", (_KeepAliveHandler,), {"verbose": verbose})
        self.app = app
        self._server = make_server(
            host, port, app, server_class=_ThreadingServer, handler_class=handler
        )
        self._server.verbose = verbose
        self._thread: threading.Thread | None = None

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far (requests reuse them: HTTP/1.1 keep-alive)."""
        return self._server.accepted

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
        self._server.close_connections()
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
    app = build_app(config, clock, state, agents)
    try:
        server = EmulatorServer(app, host, port, verbose)
    except (OSError, OverflowError) as exc:  # busy port, unknown host, port out of range
        app.close()
        raise UsageError(
            f"Cannot listen on {host}:{port}",
            detail=f"{type(exc).__name__}: {exc}",
            hint="Pick another --port (0 picks a free one) or --host, or stop what uses it.",
        ) from exc
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
