"""The one door to the network: `ApiClient`, kbctl's only `httpx.Client`.

Owns the base URL, the `xi-api-key` header, timeouts, bounded concurrency, retries with backoff
(waiting through the injected `Clock`) and the mapping of every failure to the `ApiError` family.
It knows nothing about endpoints' meaning: `kbctl.provider.elevenlabs` does. The API key never
appears in any error, repr or message made here: error bodies are redacted, and no httpx
exception (whose request carries the header) is chained to a kbctl error.

Retry policy (reference §1.5):
- idempotent requests (GET, PUT, PATCH, DELETE, and POSTs the caller marks idempotent such as the
  get-or-create `rag-index`) retry on 429, 408, 409, 5xx, timeouts and connection errors;
- non-idempotent creates retry only when the request surely did not happen (429, failure to
  connect); after a timeout, a broken connection, a 408 or a 5xx they raise
  `AmbiguousWriteError`, and the caller decides (look for the document first, never duplicate).
Delays: `Retry-After-Ms` / `Retry-After` when present (capped at 60 s), else exponential backoff
from 0.5 s with full jitter (seeded RNG for tests), capped.

Concurrency: at most `max_concurrency` requests in flight across threads; since ElevenLabs
throttles on concurrent requests, a 429 also halves that limit for a while (AIMD), so a pool of
threads settles under the workspace's plan limit instead of retrying into it.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final

import httpx

from kbctl import __version__
from kbctl.clock import Clock
from kbctl.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    TransportError,
    UsageError,
)

BACKOFF_BASE: Final = 0.5
BACKOFF_CAP: Final = 30.0
RETRY_AFTER_CAP: Final = 60.0
_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
_EMULATOR_URL: Final = "http://kbctl-emulator"
_REDACTED: Final = "***"
_MAX_MESSAGE: Final = 300

#: Query parameters: lists go out as repeated keys (`?types=text&types=url`).
Params = Mapping[str, str | int | float | bool | Sequence[str] | None]
WsgiApp = Callable[..., Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class FilePart:
    """One file of a multipart upload."""

    filename: str
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"


class AmbiguousWriteError(ApiError):
    """A non-idempotent request failed in a way that leaves open whether it took effect.

    `cause` is the error kbctl would have reported (a `ServerError` or a `TransportError`).
    `ElevenLabsProvider.create_document` handles it; it only escapes as a last resort.
    """

    def __init__(self, cause: ApiError) -> None:
        super().__init__(
            f"{cause.summary} (the request may or may not have taken effect)",
            method=cause.method,
            path=cause.path,
            status=cause.status,
            code=cause.code,
            detail=cause.detail,
            hint=cause.hint,
        )
        self.cause = cause


@dataclass(frozen=True, slots=True)
class _Answer:
    """An HTTP response, read completely."""

    status: int
    headers: httpx.Headers
    content: bytes
    encoding: str

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")


@dataclass(frozen=True, slots=True)
class _Failure:
    """A request that got no response (already redacted; no httpx object kept)."""

    unsent: bool  # surely never reached the server (connect failure, pool timeout)
    timeout: bool
    retryable: bool
    description: str


class _Limiter:
    """At most `limit` requests in flight, admitted first come, first served.

    ElevenLabs throttles on concurrency, so the limit halves on a 429 (once per round of
    requests) and creeps back up by one after `2 * limit` successes, never above the configured
    ceiling. Admission is in arrival order, so a request sent back by a 429 queues behind the
    others instead of taking the next probe again. Waiting here is for other threads' requests to
    finish, not for time to pass, so it needs no clock.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = ceiling
        self._in_flight = 0
        self._epoch = 0
        self._streak = 0
        self._next_ticket = 0
        self._serving = 0
        self._cond = threading.Condition()

    def acquire(self) -> int:
        """Wait for a slot; returns the round the request belongs to."""
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving or self._in_flight >= self.limit:
                self._cond.wait()
            self._serving += 1
            self._in_flight += 1
            self._cond.notify_all()
            return self._epoch

    def release(self, epoch: int, *, throttled: bool) -> None:
        """Give the slot back, saying whether the server answered 429."""
        with self._cond:
            self._in_flight -= 1
            if throttled:
                self._streak = 0
                if epoch == self._epoch:  # the first 429 of this round shrinks the limit
                    self.limit = max(1, self.limit // 2)
                    self._epoch += 1
            elif self.limit < self.ceiling:
                self._streak += 1
                if self._streak >= 2 * self.limit:
                    self.limit += 1
                    self._streak = 0
            self._cond.notify_all()


class ApiClient:
    """kbctl's HTTP client: thread-safe, bounded, retrying, and secret-safe."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        clock: Clock,
        *,
        api_key_env: str = "ELEVENLABS_API_KEY",
        timeout: float = 30.0,
        max_retries: int = 5,
        max_concurrency: int = 8,
        wsgi_app: WsgiApp | None = None,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Args:
        base_url: `https://…` (a label only when `wsgi_app` is given).
        api_key: the key; missing → `AuthError` naming `api_key_env` at the first request.
        wsgi_app: serve requests in-process (the emulator) instead of over the network.
        seed: seeds the backoff jitter (tests).
        transport: an httpx transport to use instead (tests: `httpx.MockTransport`).
        """
        if max_retries < 0:
            raise UsageError("max_retries must be >= 0")
        if max_concurrency < 1:
            raise UsageError("The concurrency must be at least 1")
        if (
            wsgi_app is None
            and transport is None
            and not base_url.startswith(("https://", "http://"))
        ):
            raise UsageError(
                f"Unsupported base URL {base_url!r}",
                hint="Use an https:// URL (or http:// for an emulator served over a socket).",
            )
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self._key = (api_key or "").strip()
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._limiter = _Limiter(max_concurrency)
        self.calls = 0
        self.route_calls: Counter[str] = Counter()
        headers = {"user-agent": f"kbctl/{__version__}", "accept": "application/json"}
        if self._key and self._key.isascii() and self._key.isprintable():
            headers["xi-api-key"] = self._key
        if wsgi_app is not None:
            transport = httpx.WSGITransport(app=wsgi_app)
        self._http = httpx.Client(
            base_url=_EMULATOR_URL if wsgi_app is not None else base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            limits=httpx.Limits(max_connections=max_concurrency),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"ApiClient(base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    # ---------------------------------------------------------------------------------------
    # Lifecycle

    def close(self) -> None:
        """Release the connections."""
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------
    # Request helpers

    def get_json(self, path: str, *, params: Params | None = None, route: str = "") -> object:
        """GET and parse the JSON answer."""
        answer = self._request("GET", path, params=params, route=route)
        return self._parse_json("GET", path, answer)

    def get_text(self, path: str, *, params: Params | None = None, route: str = "") -> str:
        """GET a raw text answer (e.g. document content)."""
        return self._request("GET", path, params=params, route=route).text

    def get_bytes(self, path: str, *, params: Params | None = None, route: str = "") -> bytes:
        """GET a raw answer as the server sent it."""
        return self._request("GET", path, params=params, route=route).content

    def send_json(
        self,
        method: str,
        path: str,
        body: Mapping[str, object] | None = None,
        *,
        params: Params | None = None,
        idempotent: bool | None = None,
        retry_conflict: bool = True,
        route: str = "",
    ) -> object:
        """Send a request with an optional JSON body and parse the JSON answer (`None` if empty).

        `idempotent` defaults by method (POST is not). `retry_conflict=False` turns off retrying
        409 (for requests where a conflict is an answer, not a hiccup).
        """
        answer = self._request(
            method,
            path,
            params=params,
            body=body,
            idempotent=idempotent,
            retry_conflict=retry_conflict,
            route=route,
        )
        return self._parse_json(method, path, answer)

    def post_multipart(
        self,
        path: str,
        *,
        files: Mapping[str, FilePart],
        fields: Mapping[str, str],
        route: str = "",
    ) -> object:
        """POST a multipart form (never idempotent) and parse the JSON answer."""
        answer = self._request(
            "POST", path, files=files, form=fields, idempotent=False, route=route
        )
        return self._parse_json("POST", path, answer)

    @property
    def concurrency_limit(self) -> int:
        """Requests allowed in flight now (lowered after 429s, at most `max_concurrency`)."""
        return self._limiter.limit

    def wait_before_retry(self, attempt: int) -> None:
        """Sleep the backoff for retry number `attempt` (0-based), on the injected clock."""
        self._clock.sleep(self.backoff_delay(attempt))

    def backoff_delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(cap, 0.5 s · 2^attempt)]."""
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** min(attempt, 32)))
        with self._lock:
            return self._rng.uniform(0.0, ceiling)

    def redact(self, text: str) -> str:
        """`text` with the API key replaced."""
        if self._key and len(self._key) >= 4:
            return text.replace(self._key, _REDACTED)
        return text

    # ---------------------------------------------------------------------------------------
    # The retry loop

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, object] | None = None,
        files: Mapping[str, FilePart] | None = None,
        form: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        retry_conflict: bool = True,
        route: str = "",
    ) -> _Answer:
        method = method.upper()
        self._check_key(method, path)
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        attempt = 0
        while True:
            outcome = self._send_once(method, path, params, body, files, form, route)
            if isinstance(outcome, _Failure):
                may_retry = outcome.retryable and (idempotent or outcome.unsent)
                if may_retry and attempt < self.max_retries:
                    self.wait_before_retry(attempt)
                    attempt += 1
                    continue
                failure = self._transport_error(method, path, outcome, attempt + 1)
                if not idempotent and not outcome.unsent:
                    raise AmbiguousWriteError(failure)
                raise failure
            status = outcome.status
            if 200 <= status < 300:
                return outcome
            retryable = status == 429 or (
                idempotent
                and (status == 408 or status >= 500 or (status == 409 and retry_conflict))
            )
            if retryable and attempt < self.max_retries:
                delay = self._retry_after(outcome.headers)
                self._clock.sleep(delay if delay is not None else self.backoff_delay(attempt))
                attempt += 1
                continue
            error = self._status_error(method, path, outcome, attempt + 1)
            if not idempotent and (status >= 500 or status == 408):
                raise AmbiguousWriteError(error)
            raise error

    def _send_once(
        self,
        method: str,
        path: str,
        params: Params | None,
        body: Mapping[str, object] | None,
        files: Mapping[str, FilePart] | None,
        form: Mapping[str, str] | None,
        route: str,
    ) -> _Answer | _Failure:
        multipart = (
            {name: (p.filename, p.content, p.content_type) for name, p in files.items()}
            if files is not None
            else None
        )
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        epoch = self._limiter.acquire()
        throttled = False
        try:
            with self._lock:
                self.calls += 1
                self.route_calls[route or f"{method} {path}"] += 1
            try:
                response = self._http.request(
                    method,
                    path,
                    params=query or None,
                    json=dict(body) if body is not None else None,
                    files=multipart,
                    data=dict(form) if form is not None else None,
                )
            except httpx.UnsupportedProtocol as exc:
                return _Failure(True, False, False, self.redact(f"unsupported URL: {exc}"))
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                text = self.redact(f"could not connect ({type(exc).__name__}: {exc})")
                return _Failure(True, isinstance(exc, httpx.TimeoutException), True, text)
            except httpx.TimeoutException as exc:
                text = self.redact(f"timed out ({type(exc).__name__}: {exc})")
                return _Failure(False, True, True, text)
            except httpx.TransportError as exc:
                text = self.redact(f"connection failed ({type(exc).__name__}: {exc})")
                return _Failure(False, False, True, text)
            throttled = response.status_code == 429
        finally:
            self._limiter.release(epoch, throttled=throttled)
        return _Answer(
            status=response.status_code,
            headers=response.headers,
            content=response.content,
            encoding=response.encoding or "utf-8",
        )

    def _check_key(self, method: str, path: str) -> None:
        if not self._key:
            raise AuthError(
                f"No API key: set {self.api_key_env}",
                method=method,
                path=path,
                hint=f"Export {self.api_key_env} with an ElevenLabs API key for this workspace.",
            )
        if not (self._key.isascii() and self._key.isprintable()):
            raise AuthError(
                f"The API key in {self.api_key_env} is not a valid header value",
                method=method,
                path=path,
                hint=f"{self.api_key_env} must hold the key alone, without spaces or line breaks.",
            )

    def _retry_after(self, headers: httpx.Headers) -> float | None:
        raw_ms = headers.get("retry-after-ms")
        if raw_ms is not None:
            try:
                return _clamp(float(raw_ms) / 1000.0)
            except ValueError:
                pass
        raw = headers.get("retry-after")
        if raw is None:
            return None
        try:
            return _clamp(float(raw))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return _clamp(when.timestamp() - self._clock.now())

    # ---------------------------------------------------------------------------------------
    # Errors

    def _parse_json(self, method: str, path: str, answer: _Answer) -> object:
        if not answer.content.strip():
            return None
        try:
            value: object = json.loads(answer.content)
        except ValueError:
            snippet = self.redact(answer.text)[:120]
            raise ProtocolError(
                "The API sent an answer kbctl cannot read",
                method=method,
                path=path,
                status=answer.status,
                detail=f"{method} {path} → HTTP {answer.status}: not JSON: {snippet!r}",
                hint="Check that the base URL points at the ElevenLabs API.",
            ) from None
        return value

    def _transport_error(
        self, method: str, path: str, failure: _Failure, attempts: int
    ) -> TransportError:
        if failure.timeout:
            summary = f"The API did not answer in time ({method} {path})"
        elif failure.unsent:
            summary = f"Could not connect to the API at {self.base_url}"
        else:
            summary = f"The connection to the API failed ({method} {path})"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return TransportError(
            summary,
            method=method,
            path=path,
            detail=f"{method} {path}: {failure.description}{tries}",
            hint="Check the network and the base URL (ELEVENLABS_BASE_URL), then re-run.",
        )

    def _status_error(self, method: str, path: str, answer: _Answer, attempts: int) -> ApiError:
        status = answer.status
        code, message, problems = self._error_body(answer)
        lines = [f"{method} {path} → HTTP {status}"]
        if code or message:
            lines.append(f"API said: {': '.join(p for p in (code, message) if p)}")
        lines.extend(f"  {p}" for p in problems)
        if attempts > 1:
            lines.append(f"Gave up after {attempts} attempts.")
        detail = "\n".join(lines)
        kind: type[ApiError] = ApiError
        hint: str | None = None
        if status in (401, 403):
            kind, summary = AuthError, "API key rejected"
            hint = (
                f"Check that {self.api_key_env} holds a valid API key for this workspace "
                "(residency regions such as EU have their own keys and base URLs)."
            )
        elif status == 404:
            kind, summary = NotFoundError, f"Not found: {method} {path}"
        elif status == 422:
            summary = f"The API rejected {method} {path} as invalid (HTTP 422)"
            hint = "This is likely a kbctl bug or an API change; re-run with --debug and report."
        elif status == 429:
            kind, summary = RateLimitedError, "The API kept answering 429 (too many requests)"
            hint = (
                "Lower --concurrency (the workspace's plan limits concurrent requests), "
                "or wait and re-run."
            )
        elif status >= 500:
            kind, summary = ServerError, f"The API failed with HTTP {status}"
            hint = (
                "ElevenLabs may be having trouble; re-run later (kbctl's steps are safe to repeat)."
            )
        else:
            said = message or code
            summary = f"The API refused {method} {path} (HTTP {status})"
            if said:
                summary = f"{summary}: {said}"
        return kind(
            summary, method=method, path=path, status=status, code=code, detail=detail, hint=hint
        )

    def _error_body(self, answer: _Answer) -> tuple[str | None, str | None, list[str]]:
        """(code, message, validation problems) from an error body, all redacted."""
        try:
            body: object = json.loads(answer.content) if answer.content.strip() else None
        except ValueError:
            text = _one_line(self.redact(answer.text))
            return None, (text or None), []
        code: object = None
        message: object = None
        problems: list[str] = []
        if isinstance(body, dict):
            detail = body.get("detail", body)
            if isinstance(detail, dict):
                code, message = detail.get("status"), detail.get("message")
            elif isinstance(detail, list):
                problems = [self._validation_item(item) for item in detail]
            elif isinstance(detail, str):
                message = detail
        return (
            _one_line(self.redact(code)) if isinstance(code, str) else None,
            _one_line(self.redact(message)) if isinstance(message, str) else None,
            problems,
        )

    def _validation_item(self, item: object) -> str:
        if not isinstance(item, dict):
            return _one_line(self.redact(str(item)))
        loc = item.get("loc")
        where = ".".join(str(p) for p in loc) if isinstance(loc, list) else "?"
        return _one_line(self.redact(f"{where}: {item.get('msg', '')}"))


def _query_value(value: str | int | float | bool | Sequence[str]) -> str | list[str]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return [str(v) for v in value]


def _clamp(seconds: float) -> float:
    return max(0.0, min(RETRY_AFTER_CAP, seconds))


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 1] + "…"
