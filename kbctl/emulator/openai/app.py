"""`OpenAIApp`: the WSGI application speaking OpenAI's wire format for `/v1/files` and
`/v1/vector_stores`. Per request: `Authorization: Bearer` auth, routing, injected faults
(latency, concurrency limit, random 500/503) with OpenAI's error shape, the handler, persistence
of what changed, an `x-request-id` on every answer.

Owns the request lifecycle. Must not implement endpoint semantics (handlers, world) and never
lets a Python traceback reach a client: unexpected exceptions answer a JSON 500 and are kept in
`internal_errors`.
"""

from __future__ import annotations

import random
import re
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping

from kbctl.emulator.http.messages import Request, Response, json_response, status_line
from kbctl.emulator.openai.errors import OpenAIProblem
from kbctl.emulator.openai.handlers import ENDPOINTS, Endpoint
from kbctl.emulator.openai.world import OpenAIWorld

StartResponse = Callable[..., object]
#: `/v1/uploads` is OpenAI's too; it is not emulated, so it answers OpenAI's "Invalid URL" 404.
PREFIXES = ("/v1/files", "/v1/vector_stores", "/v1/uploads")
FAULT_HEADER = "X-Kbctl-Emulator-Fault"


def is_openai_path(path: str) -> bool:
    """Whether a request path belongs to the OpenAI side of the emulator."""
    return any(path == p or path.startswith(p + "/") for p in PREFIXES)


def _compile(template: str) -> re.Pattern[str]:
    parts = []
    for part in template.strip("/").split("/"):
        if part.startswith("{") and part.endswith("}"):
            parts.append(f"(?P<{part[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(part))
    return re.compile("^/" + "/".join(parts) + "/?$")


_ROUTES = [(endpoint, _compile(endpoint.template)) for endpoint in ENDPOINTS]


def _error(problem: OpenAIProblem, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return json_response(problem.body(), problem.status, headers)


class OpenAIApp:
    """WSGI callable over an `OpenAIWorld`."""

    def __init__(self, world: OpenAIWorld) -> None:
        self.world = world
        self._rng = random.Random(world.config.seed)
        self._lock = threading.Lock()
        self._inflight = 0
        self._requests = 0
        #: Tracebacks of unexpected exceptions (each was answered with a JSON 500).
        self.internal_errors: list[str] = []
        #: Injected faults answered so far, e.g. `{"fail_rate": 3}`.
        self.injected: dict[str, int] = {}

    def close(self) -> None:
        """Save everything (a clean shutdown)."""
        self.world.close()

    def __call__(
        self, environ: Mapping[str, object], start_response: StartResponse
    ) -> Iterable[bytes]:
        response = self.handle(environ)
        start_response(status_line(response.status), response.header_list())
        return [response.body]

    def handle(self, environ: Mapping[str, object]) -> Response:
        """Answer one request (never raises); every answer carries `x-request-id`."""
        with self._lock:
            self._requests += 1
            request_id = f"req_{self.world.config.seed:x}{self._requests:012x}"
        response = self._answer(environ)
        return Response(
            response.status,
            response.body,
            response.content_type,
            (*response.headers, ("x-request-id", request_id)),
        )

    def _answer(self, environ: Mapping[str, object]) -> Response:
        try:
            request = Request.from_environ(environ)
        except Exception:
            return self._internal()
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        endpoint, params, known_path = self._match(request.method, request.path)
        if endpoint is None:
            status = 405 if known_path else 404
            return _error(OpenAIProblem(status, f"Invalid URL ({request.method} {request.path})"))
        with self.world._lock:
            self.world.calls[endpoint.key] += 1
        with self._lock:
            self._inflight += 1
            limit = self.world.config.max_concurrency
            over = limit is not None and self._inflight > limit
            if over:
                self._inflight -= 1
        if over:
            return self._fault(429, "max_concurrency")
        try:
            return self._serve(endpoint, request, params)
        finally:
            with self._lock:
                self._inflight -= 1

    @staticmethod
    def _match(method: str, path: str) -> tuple[Endpoint | None, dict[str, str], bool]:
        known_path = False
        for endpoint, pattern in _ROUTES:
            found = pattern.match(path)
            if found is None:
                continue
            if endpoint.method == method:
                return endpoint, found.groupdict(), False
            known_path = True
        return None, {}, known_path

    def _authenticate(self, request: Request) -> Response | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return _error(
                OpenAIProblem(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                )
            )
        expected = self.world.config.api_key
        if expected is not None and key != expected:
            return _error(OpenAIProblem(401, "Incorrect API key provided.", code="invalid_api_key"))
        return None

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def _fault(self, status: int, fault: str) -> Response:
        with self._lock:
            self.injected[fault] = self.injected.get(fault, 0) + 1
        headers = [(FAULT_HEADER, fault)]
        if status == 429:
            problem = OpenAIProblem(
                429,
                "Rate limit reached: too many concurrent requests. Please try again shortly.",
                type_="requests",
                code="rate_limit_exceeded",
            )
            if self.world.config.retry_after_on_429:
                headers.append(("retry-after", "1"))
        else:
            problem = OpenAIProblem(
                status,
                "The server had an error while processing your request. Sorry about that!",
                type_="server_error",
            )
        return _error(problem, headers)

    def _serve(self, endpoint: Endpoint, request: Request, params: dict[str, str]) -> Response:
        config = self.world.config
        if config.latency_ms > 0:
            self.world.clock.sleep(config.latency_ms / 1000.0)  # outside the world lock
        if config.fail_rate > 0 and self._draw() < config.fail_rate:
            return self._fault(503 if self._draw() < 0.5 else 500, "fail_rate")
        try:
            response = endpoint.handler(self.world, request, params)
        except OpenAIProblem as problem:
            response = _error(problem)
        except Exception:
            response = self._internal()
        try:
            self.world.flush()
        except Exception:
            return self._internal()
        if (
            endpoint.writes
            and response.status < 300
            and config.fail_after_write_rate > 0
            and self._draw() < config.fail_after_write_rate
        ):
            return self._fault(500, "fail_after_write_rate")
        return response

    def _internal(self) -> Response:
        self.internal_errors.append(traceback.format_exc())
        return _error(
            OpenAIProblem(
                500,
                "The server had an error while processing your request. Sorry about that!",
                type_="server_error",
            )
        )
