"""HTTP failures → the `ApiError` family, with summary, detail and hint.

Owns the mapping of a status (or a request that got no answer) to an error a person can act on,
and the reading of ElevenLabs' error bodies (`{"detail": {"status", "message"}}`, 422 lists,
bare strings). Bodies reach it already redacted. It must not send requests or import httpx.

    401 → AuthError            the key is missing or rejected
    403 → PermissionDeniedError the key is valid but may not do this (scope, protected branch)
    404 → NotFoundError        422 → ApiError (a kbctl bug or an API change)
    429 → RateLimitedError     5xx → ServerError      no answer → TransportError
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from kbctl.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from kbctl.provider.redaction import Redactor

_MAX_MESSAGE: Final = 300


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
class Failure:
    """A request that got no response (already redacted; no httpx object kept)."""

    unsent: bool  # surely never reached the server (connect failure, pool timeout)
    timeout: bool
    retryable: bool
    description: str


def transport_error(
    method: str, path: str, failure: Failure, attempts: int, base_url: str
) -> TransportError:
    """The error for a request that never got an answer, after `attempts` tries."""
    if failure.timeout:
        summary = f"The API did not answer in time ({method} {path})"
    elif failure.unsent:
        summary = f"Could not connect to the API at {base_url}"
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


def unreadable(method: str, path: str, status: int, text: str) -> ProtocolError:
    """The error for an answer that is not JSON."""
    return ProtocolError(
        "The API sent an answer kbctl cannot read",
        method=method,
        path=path,
        status=status,
        detail=f"{method} {path} → HTTP {status}: not JSON: {text[:120]!r}",
        hint="Check that the base URL points at the ElevenLabs API.",
    )


def status_error(
    method: str,
    path: str,
    status: int,
    content: bytes,
    *,
    attempts: int,
    api_key_env: str,
    redactor: Redactor,
) -> ApiError:
    """The error for a non-2xx answer, after `attempts` tries."""
    code, message, problems = error_body(content, redactor)
    lines = [f"{method} {path} → HTTP {status}"]
    if code or message:
        lines.append(f"API said: {': '.join(p for p in (code, message) if p)}")
    lines.extend(f"  {p}" for p in problems)
    if attempts > 1:
        lines.append(f"Gave up after {attempts} attempts.")
    detail = "\n".join(lines)
    kind: type[ApiError] = ApiError
    hint: str | None = None
    if status == 401:
        kind, summary = AuthError, "API key rejected"
        hint = (
            f"Check that {api_key_env} holds a valid API key for this workspace "
            "(residency regions such as EU have their own keys and base URLs)."
        )
    elif status == 403:
        kind, summary = PermissionDeniedError, f"Permission denied: {method} {path}"
        hint = (
            f"The key in {api_key_env} is valid but may not do this: give it the "
            "Conversational AI / knowledge base permissions it needs (write, not only read), "
            "or, for a protected branch (admin_perms_required), use a workspace admin's key."
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
        hint = "ElevenLabs may be having trouble; re-run later (kbctl's steps are safe to repeat)."
    else:
        said = message or code
        summary = f"The API refused {method} {path} (HTTP {status})"
        if said:
            summary = f"{summary}: {said}"
    return kind(
        summary, method=method, path=path, status=status, code=code, detail=detail, hint=hint
    )


def error_body(content: bytes, redactor: Redactor) -> tuple[str | None, str | None, list[str]]:
    """(code, message, validation problems) from an error body, all redacted."""
    content = redactor.raw(content)
    try:
        body: object = redactor.json(json.loads(content)) if content.strip() else None
    except ValueError:
        text = one_line(redactor.text(content.decode("utf-8", errors="replace")))
        return None, (text or None), []
    code: object = None
    message: object = None
    problems: list[str] = []
    if isinstance(body, dict):
        # ElevenLabs: {"detail": …}; OpenAI: {"error": {"message", "type", "param", "code"}}.
        detail = body.get("detail", body.get("error", body))
        if isinstance(detail, dict):
            code, message = detail.get("status") or detail.get("code"), detail.get("message")
        elif isinstance(detail, list):
            problems = [_validation_item(item) for item in detail]
        elif isinstance(detail, str):
            message = detail
    return (
        one_line(code) if isinstance(code, str) else None,
        one_line(message) if isinstance(message, str) else None,
        problems,
    )


def _validation_item(item: object) -> str:
    if not isinstance(item, dict):
        return one_line(str(item))
    loc = item.get("loc")
    where = ".".join(str(p) for p in loc) if isinstance(loc, list) else "?"
    return one_line(f"{where}: {item.get('msg', '')}")


def one_line(text: str) -> str:
    """`text` on one line, at most 300 characters."""
    line = " ".join(text.split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 1] + "…"
