"""HTTP plumbing for the WSGI app: a parsed `Request` (query multi-dict, headers, JSON body,
multipart/urlencoded forms), a `Response`, and the JSON error bodies of the real API.

Owns parsing and serialising. Must not know about routes, state or faults.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from kbctl.emulator.workspace.errors import Unprocessable
from kbctl.emulator.workspace.records import Json


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One file part of a multipart form."""

    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class Request:
    """What a handler sees of a request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    _json: object = field(default=None, repr=False)
    _json_parsed: bool = field(default=False, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, object]) -> Request:
        """Build from a WSGI environ (PATH_INFO is latin-1-decoded bytes per PEP 3333)."""
        raw_path = str(environ.get("PATH_INFO") or "/")
        path = raw_path.encode("latin-1").decode("utf-8", errors="replace")
        query = parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True)
        headers = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").lower()] = str(value)
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        length_text = str(environ.get("CONTENT_LENGTH") or "0").strip() or "0"
        length = int(length_text) if length_text.isdigit() else 0
        stream = environ.get("wsgi.input")
        body = b""
        if length > 0 and stream is not None:
            body = stream.read(length)  # type: ignore[attr-defined]
        return cls(str(environ.get("REQUEST_METHOD") or "GET").upper(), path, query, headers, body)

    def json(self) -> object:
        """The JSON body (None if empty); a 422 `json_invalid` if it is not JSON."""
        if not self._json_parsed:
            self._json_parsed = True
            if self.body.strip():
                try:
                    self._json = json.loads(self.body)
                except ValueError as exc:
                    raise Unprocessable(
                        [
                            {
                                "type": "json_invalid",
                                "loc": ["body", getattr(exc, "pos", 0)],
                                "msg": "JSON decode error",
                                "input": {},
                                "ctx": {"error": str(exc).split(":")[0]},
                            }
                        ]
                    ) from exc
        return self._json

    def form(self) -> tuple[dict[str, str], dict[str, UploadedFile]]:
        """Fields and files of a multipart or urlencoded body."""
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            match = re.search(r'boundary="?([^";]+)"?', ctype)
            if match:
                return parse_multipart(self.body, match.group(1).encode("latin-1"))
        if ctype.startswith("application/x-www-form-urlencoded"):
            parsed = parse_qs(self.body.decode("utf-8", errors="replace"), keep_blank_values=True)
            return {k: v[-1] for k, v in parsed.items()}, {}
        return {}, {}


_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def _disposition(value: str) -> dict[str, str]:
    return {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3).strip())
        for m in _PARAM.finditer(value)
    }


def parse_multipart(body: bytes, boundary: bytes) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Parse a `multipart/form-data` body."""
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    delimiter = b"--" + boundary
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part.lstrip(b"\n")
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = part.partition(b"\n\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", errors="replace").splitlines():
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        params = _disposition(headers.get("content-disposition", ""))
        field_name = params.get("name")
        if not field_name:
            continue
        if "filename" in params:
            files[field_name] = UploadedFile(
                params["filename"], headers.get("content-type", "application/octet-stream"), content
            )
        else:
            fields[field_name] = content.decode("utf-8", errors="replace")
    return fields, files


@dataclass(frozen=True, slots=True)
class Response:
    """Status, headers and body of an answer."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    def header_list(self) -> list[tuple[str, str]]:
        """WSGI headers."""
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            *self.headers,
        ]


_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 422: "Unprocessable Entity",
    429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
    503: "Service Unavailable",
}  # fmt: skip


def status_line(status: int) -> str:
    """`"404 Not Found"`."""
    return f"{status} {_REASONS.get(status, 'Error')}"


def json_response(
    value: object, status: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """A JSON answer."""
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, "application/json", tuple(headers))


def error_response(
    status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """`{"detail": {"status": code, "message": message}}`."""
    return json_response({"detail": {"status": code, "message": message}}, status, headers)


def validation_response(errors: list[Json]) -> Response:
    """A FastAPI 422."""
    return json_response({"detail": errors}, 422)


def text_response(text: str) -> Response:
    """A raw text answer (document content)."""
    return Response(200, text.encode(), "text/html; charset=utf-8")
