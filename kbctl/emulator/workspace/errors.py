"""The two ways an emulated operation fails, as the real API answers them: an `ApiProblem`
(`{"detail": {"status", "message"}}` with a status code) and an `Unprocessable` (a FastAPI 422
list).

Owns those exception types. Must not format HTTP answers (the HTTP face turns them into
responses).
"""

from __future__ import annotations

from kbctl.emulator.workspace.records import Json


class ApiProblem(Exception):
    """An API error answered as `{"detail": {"status": code, "message": message}}`."""

    def __init__(self, http_status: int, code: str, message: str) -> None:
        super().__init__(f"{http_status} {code}: {message}")
        self.http_status = http_status
        self.code = code
        self.message = message


class Unprocessable(Exception):
    """A FastAPI-style 422: `{"detail": [{"loc": [...], "msg": ..., "type": ...}, ...]}`."""

    def __init__(self, errors: list[Json]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = errors


def not_found(kind: str, ident: str) -> ApiProblem:
    """The 404 for an unknown document, agent, index, version…"""
    return ApiProblem(
        404, f"{kind}_not_found", f"{kind.replace('_', ' ').capitalize()} {ident!r} was not found."
    )
