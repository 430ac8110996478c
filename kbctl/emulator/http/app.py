"""`EmulatorApp`: the WSGI application speaking the ElevenLabs wire format. Per request:
auth (`xi-api-key`), routing, injected faults (latency, concurrency limit, random 500/503,
failure after a write), the handler, persistence of what changed, and error bodies.

Owns the request lifecycle. Must not implement endpoint semantics (world, handlers) and never
lets a Python traceback reach a client: unexpected exceptions answer a JSON 500 and are kept in
`internal_errors` so tests can prove there were none.
"""

from __future__ import annotations

import random
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping

from kbctl.emulator.config import EmulatorConfig
from kbctl.emulator.http import agent_routes, branch_routes, kb_routes
from kbctl.emulator.http.messages import (
    Request,
    Response,
    error_response,
    status_line,
    validation_response,
)
from kbctl.emulator.http.routing import Route, Router
from kbctl.emulator.openai import OpenAIApp, is_openai_path, open_openai
from kbctl.emulator.workspace.errors import ApiProblem, Unprocessable
from kbctl.emulator.workspace.world import World

StartResponse = Callable[..., object]
FAULT_HEADER = "X-Kbctl-Emulator-Fault"


def build_router() -> Router:
    """Every emulated endpoint."""
    router = Router()
    kb_routes.register(router)
    agent_routes.register(router)
    branch_routes.register(router)
    return router


class EmulatorApp:
    """WSGI callable over a `World`. Use `httpx.WSGITransport(app=EmulatorApp(world))` in
    process, or `kbctl.emulator.http.server` over a socket."""

    def __init__(self, world: World, openai: OpenAIApp | None = None) -> None:
        self.world = world
        #: The OpenAI side (`/v1/files`, `/v1/vector_stores`); same settings and clock.
        self.openai = openai or open_openai(world.config, world.clock)
        self.router = build_router()
        self._rng = random.Random(world.config.seed)
        self._rng_lock = threading.Lock()
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        #: The most requests served at once so far (those answered 429 for the limit excluded).
        self.peak_inflight = 0
        #: Tracebacks of unexpected exceptions (each was answered with a JSON 500).
        self.internal_errors: list[str] = []
        #: Injected faults answered so far, e.g. `{"fail_rate": 3, "max_concurrency": 10}`.
        self.injected: dict[str, int] = {}

    @property
    def config(self) -> EmulatorConfig:
        """The world's settings."""
        return self.world.config

    def close(self) -> None:
        """Save everything (a clean shutdown). The OpenAI side first: it writes in the folder
        whose lock the ElevenLabs side gives up when it closes."""
        self.openai.close()
        self.world.close()

    # ------------------------------------------------------------------ WSGI
    def __call__(
        self, environ: Mapping[str, object], start_response: StartResponse
    ) -> Iterable[bytes]:
        response = self.handle(environ)
        start_response(status_line(response.status), response.header_list())
        return [response.body]

    def handle(self, environ: Mapping[str, object]) -> Response:
        """Answer one request (never raises)."""
        if is_openai_path(str(environ.get("PATH_INFO") or "")):
            return self.openai.handle(environ)
        try:
            request = Request.from_environ(environ)
        except Exception:
            return self._internal()
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        route, params, other_method = self.router.match(request.method, request.path)
        if route is None:
            self.world.record_call(f"{request.method} (unmatched)")
            if other_method:
                return error_response(
                    405, "method_not_allowed", f"{request.method} is not allowed on {request.path}."
                )
            return error_response(404, "not_found", f"No endpoint {request.method} {request.path}.")
        self.world.record_call(route.key)
        with self._inflight_lock:
            self._inflight += 1
            limit = self.world.config.max_concurrency
            over = limit is not None and self._inflight > limit
            if over:
                self._inflight -= 1
            else:
                self.peak_inflight = max(self.peak_inflight, self._inflight)
        if over:
            return self._too_many()
        try:
            return self._serve(route, request, params)
        finally:
            with self._inflight_lock:
                self._inflight -= 1

    # ------------------------------------------------------------------ steps
    def _authenticate(self, request: Request) -> Response | None:
        key = request.headers.get("xi-api-key", "")
        expected = self.world.config.api_key
        if not key:
            return error_response(
                401, "invalid_api_key", "Missing API key: send it in the xi-api-key header."
            )
        if expected is not None and key != expected:
            return error_response(401, "invalid_api_key", "Invalid API key.")
        return None

    def _draw(self) -> float:
        with self._rng_lock:
            return self._rng.random()

    def _count(self, fault: str) -> None:
        with self._rng_lock:
            self.injected[fault] = self.injected.get(fault, 0) + 1

    def _too_many(self) -> Response:
        self._count("max_concurrency")
        headers = [(FAULT_HEADER, "max_concurrency")]
        if self.world.config.retry_after_on_429:
            headers.append(("Retry-After", "1"))
        return error_response(
            429,
            "too_many_concurrent_requests",
            "Too many concurrent requests for your plan. Retry later.",
            headers,
        )

    def _injected_failure(self, fault: str) -> Response:
        self._count(fault)
        headers = [(FAULT_HEADER, fault)]
        if fault == "fail_rate" and self._draw() < 0.5:
            return error_response(
                503,
                "service_unavailable",
                "The service is temporarily unavailable (injected).",
                headers,
            )
        return error_response(
            500, "something_went_wrong", "Something went wrong (injected).", headers
        )

    def _serve(self, route: Route, request: Request, params: dict[str, str]) -> Response:
        config = self.world.config
        if config.latency_ms > 0:
            self.world.clock.sleep(config.latency_ms / 1000.0)  # outside the world lock
        if config.fail_rate > 0 and self._draw() < config.fail_rate:
            return self._injected_failure("fail_rate")
        try:
            response = route.handler(self.world, request, params)
        except ApiProblem as problem:
            response = error_response(problem.http_status, problem.code, problem.message)
        except Unprocessable as invalid:
            response = validation_response(invalid.errors)
        except Exception:
            response = self._internal()
        try:
            self.world.flush()
        except Exception:
            return self._internal()
        if (
            route.writes
            and response.status < 300
            and config.fail_after_write_rate > 0
            and self._draw() < config.fail_after_write_rate
        ):
            return self._injected_failure("fail_after_write_rate")
        return response

    def _internal(self) -> Response:
        self.internal_errors.append(traceback.format_exc())
        return error_response(
            500, "internal_server_error", "An unexpected error occurred in the emulator."
        )
