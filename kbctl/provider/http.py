"""The one door to the network: `ApiClient`, kbctl's only `httpx.Client`.

Owns the base URL, the key header (`xi-api-key`; `Authorization: Bearer` for OpenAI), timeouts,
the retry loop (waiting through the injected `Clock`, reporting each retry to a `RetryListener`)
and the redaction of every answer: the API key is replaced in response bodies before anything
parses them, so live data holding the key never reaches output, plan files or snapshots. It knows
nothing about endpoints' meaning (`kbctl.provider.elevenlabs` and `.openai` do). Its one seam is
`transport=`: the in-process emulator is an httpx transport like any other (`wsgi_transport(app)`),
chosen by the caller. No httpx exception (its request carries the header) is chained to an error.
`post_webhook` is the other, smaller door: a JSON POST to a notification webhook, which never
carries the API key.

Retry policy (reference §1.5):
- idempotent requests (GET, PUT, PATCH, DELETE, and POSTs the caller marks idempotent such as the
  get-or-create `rag-index`) retry on 429, 408, 409, 5xx, timeouts and connection errors;
- non-idempotent creates retry only when the request surely did not happen (429, failure to
  connect); after a timeout, a broken connection, a 408 or a 5xx they raise
  `AmbiguousWriteError`, and the caller decides (documents: retry, ledger the lost answer).
Delays: `kbctl.provider.retry`; concurrency: `kbctl.provider.limiter` (a slot is held only while
a request is on the wire, never during a backoff sleep); errors: `kbctl.provider.http_errors`.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import httpx

from kbctl import __version__
from kbctl.clock import Clock
from kbctl.errors import AuthError, UsageError
from kbctl.provider.http_errors import (
    AmbiguousWriteError,
    Failure,
    error_body,
    status_error,
    transport_error,
    unreadable,
)
from kbctl.provider.http_parts import Answer, FilePart, Params, query_value
from kbctl.provider.limiter import TOO_MANY_CONCURRENT, Limiter
from kbctl.provider.redaction import Redactor
from kbctl.provider.retry import Backoff, RetryListener, RetryNotice, ignore_retries, retry_after

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["AmbiguousWriteError", "ApiClient", "FilePart", "Params", "wsgi_transport"]

_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
_PERMANENT_5XX: Final = frozenset({501, 505})  # not implemented: asking again cannot help


def wsgi_transport(app: WSGIApplication) -> httpx.BaseTransport:
    """A transport that hands requests to a WSGI app in-process (the embedded emulator)."""
    return httpx.WSGITransport(app=app)


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
        max_concurrency: int | None = 8,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
        on_retry: RetryListener = ignore_retries,
        bearer: bool = False,
    ) -> None:
        """Args:
        base_url: `https://…` or `http://…` (any URL the transport serves, with `transport`).
        api_key: the key; missing → `AuthError` naming `api_key_env` at the first request.
        max_concurrency: requests in flight at most (a hard cap; 429s lower it for a while), or
            None: adapt to the server's limit (`kbctl.provider.limiter`, "auto").
        seed: seeds the backoff jitter (tests).
        transport: the httpx transport to send through (default: the network).
        on_retry: told about every retry before its wait (progress output); may be reassigned.
        bearer: send the key as `Authorization: Bearer KEY` (OpenAI) instead of `xi-api-key`.
        """
        if max_retries < 0:
            raise UsageError("max_retries must be >= 0")
        if max_concurrency is not None and max_concurrency < 1:
            raise UsageError("The concurrency must be at least 1")
        if not base_url.startswith(("https://", "http://")):
            raise UsageError(
                f"Unsupported base URL {base_url!r}",
                hint="Use an https:// URL (or http:// for an emulator served over a socket).",
            )
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.on_retry = on_retry
        self._key, self._service = (api_key or "").strip(), "OpenAI" if bearer else "ElevenLabs"
        self._redactor = Redactor(self._key)
        self.clock = clock
        self._backoff = Backoff(seed)
        self._lock = threading.Lock()
        self._limiter = Limiter.for_concurrency(max_concurrency)
        self.calls = 0
        self.route_calls: Counter[str] = Counter()
        headers = {"user-agent": f"kbctl/{__version__}", "accept": "application/json"}
        auth = ("authorization", f"Bearer {self._key}") if bearer else ("xi-api-key", self._key)
        if self._key and self._key.isascii() and self._key.isprintable():
            headers[auth[0]] = auth[1]
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),  # fail fast, retry
            transport=transport,
            limits=httpx.Limits(max_connections=self._limiter.ceiling),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"ApiClient(base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    def close(self) -> None:
        """Release the connections."""
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_json(self, path: str, *, params: Params | None = None, route: str = "") -> object:
        """GET and parse the JSON answer."""
        return self._parse_json("GET", path, self._request("GET", path, params=params, route=route))

    def get_bytes(self, path: str, *, params: Params | None = None, route: str = "") -> bytes:
        """GET a raw answer (e.g. document content) as the server sent it, minus the key."""
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

    @property
    def limiter(self) -> Limiter:
        """The admission limiter (its `lowest` and `cuts` tell how the limit moved)."""
        return self._limiter

    @property
    def in_flight(self) -> int:
        """Requests on the wire now (a request waiting out a backoff is not one)."""
        return self._limiter.in_flight

    def wait_before_retry(
        self, attempt: int, *, method: str = "", path: str = "", reason: str = "retry"
    ) -> None:
        """Sleep the backoff for retry number `attempt` (0-based) on the injected clock, after
        telling the retry listener (for retries the caller drives, e.g. an ambiguous create)."""
        self._pause(method, path, reason, None, self.backoff_delay(attempt), attempt)

    def backoff_delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(cap, 0.5 s · 2^attempt)]."""
        return self._backoff.delay(attempt)

    def redact(self, text: str) -> str:
        """`text` with the API key replaced."""
        return self._redactor.text(text)

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
    ) -> Answer:
        method = method.upper()
        self._check_key(method, path)
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        attempt = 0
        while True:
            outcome = self._send_once(method, path, params, body, files, form, route)
            if isinstance(outcome, Failure):
                may_retry = outcome.retryable and (idempotent or outcome.unsent)
                if may_retry and attempt < self.max_retries:
                    reason = outcome.description.split(" (", 1)[0]
                    self._pause(method, path, reason, None, self.backoff_delay(attempt), attempt)
                    attempt += 1
                    continue
                failure = transport_error(method, path, outcome, attempt + 1, self.base_url)
                if not idempotent and not outcome.unsent:
                    raise AmbiguousWriteError(failure)
                raise failure
            status = outcome.status
            if 200 <= status < 300:
                return outcome
            retryable = status == 429 or (
                idempotent
                and (status in (408, 409) or (status >= 500 and status not in _PERMANENT_5XX))
                and (status != 409 or retry_conflict)
            )
            if retryable and attempt < self.max_retries:
                delay = retry_after(outcome.retry_after_ms, outcome.retry_after, self.clock.now())
                if delay is None:
                    delay = self.backoff_delay(attempt)
                code = error_body(outcome.content, self._redactor)[0]
                reason = f"HTTP {status} {code}" if code else f"HTTP {status}"
                self._pause(method, path, reason, status, delay, attempt)
                attempt += 1
                continue
            error = status_error(
                method,
                path,
                status,
                outcome.content,
                attempts=attempt + 1,
                api_key_env=self.api_key_env,
                redactor=self._redactor,
            )
            if not idempotent and (status >= 500 or status == 408):
                raise AmbiguousWriteError(error)
            raise error

    def _pause(
        self, method: str, path: str, reason: str, status: int | None, delay: float, attempt: int
    ) -> None:
        """Report retry `attempt` (0-based) and wait for it, holding no limiter slot."""
        notice = RetryNotice(
            method=method,
            path=path,
            reason=self.redact(reason),
            status=status,
            delay_s=delay,
            attempt=attempt + 2,
            max_attempts=self.max_retries + 1,
        )
        self.on_retry(notice)
        self.clock.sleep(delay)

    def _send_once(
        self,
        method: str,
        path: str,
        params: Params | None,
        body: Mapping[str, object] | None,
        files: Mapping[str, FilePart] | None,
        form: Mapping[str, str] | None,
        route: str,
    ) -> Answer | Failure:
        multipart = (
            {name: (p.filename, p.content, p.content_type) for name, p in files.items()}
            if files is not None
            else None
        )
        query = {k: query_value(v) for k, v in (params or {}).items() if v is not None}
        epoch = self._limiter.acquire()
        throttled = concurrent = False
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
                return Failure(True, False, False, self.redact(f"unsupported URL: {exc}"))
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                text = self.redact(f"could not connect ({type(exc).__name__}: {exc})")
                return Failure(True, isinstance(exc, httpx.TimeoutException), True, text)
            except httpx.TimeoutException as exc:
                text = self.redact(f"timed out ({type(exc).__name__}: {exc})")
                return Failure(False, True, True, text)
            except httpx.TransportError as exc:
                text = self.redact(f"connection failed ({type(exc).__name__}: {exc})")
                return Failure(False, False, True, text)
            throttled = response.status_code == 429
            concurrent = throttled and TOO_MANY_CONCURRENT in response.content
        finally:
            self._limiter.release(epoch, throttled=throttled, concurrent=concurrent)
        return Answer(
            status=response.status_code,
            retry_after_ms=response.headers.get("retry-after-ms"),
            retry_after=response.headers.get("retry-after"),
            content=self._redactor.raw(response.content),
            encoding=response.encoding or "utf-8",
        )

    def _check_key(self, method: str, path: str) -> None:
        if not self._key:
            raise AuthError(
                f"No API key: set {self.api_key_env}",
                method=method,
                path=path,
                detail=f"{method} {path} at {self.base_url} needs one; {self.api_key_env} is "
                "unset or empty, so nothing was sent.",
                hint=f"Export {self.api_key_env} with an {self._service} API key.",
            )
        if not (self._key.isascii() and self._key.isprintable()):
            raise AuthError(
                f"The API key in {self.api_key_env} is not a valid header value",
                method=method,
                path=path,
                hint=f"{self.api_key_env} must hold the key alone, without spaces or line breaks.",
            )

    def _parse_json(self, method: str, path: str, answer: Answer) -> object:
        if not answer.content.strip():
            return None
        try:
            value: object = json.loads(answer.content)
        except ValueError:
            raise unreadable(method, path, answer.status, self.redact(answer.text)) from None
        return self._redactor.parsed(answer.content, value)


def post_webhook(
    url: str,
    payload: Mapping[str, object],
    *,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> str | None:
    """POST `payload` as JSON to a webhook (no API key, no retries); None when it was accepted,
    else one line saying why not (the URL is never in it: it often holds a token)."""
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            answer = client.post(
                url, json=dict(payload), headers={"user-agent": f"kbctl/{__version__}"}
            )
    except httpx.InvalidURL:
        return "the webhook URL is not a valid URL"
    except httpx.HTTPError as err:
        return f"the webhook could not be reached ({type(err).__name__})"
    if answer.status_code >= 300:
        return f"the webhook answered HTTP {answer.status_code}"
    return None
