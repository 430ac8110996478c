"""Every failure kbctl expects, under one root, and the exit codes they map to.

Only `kbctl.cli.errors` turns these into output and an exit code; nothing below the CLI prints
or exits. Each error has a one-line `summary`, an optional `detail` and an optional `hint`, the way
Terraform's diagnostics do.

    KbctlError                 exit 1
    ├── ManifestError          exit 1   every problem, each with file/line/path
    ├── ApiError               exit 1   carries method, path, status, API error code
    │   ├── AuthError                   401: the key is missing or rejected
    │   ├── PermissionDeniedError       403: the key may not do this (scope, protected branch)
    │   ├── NotFoundError               404
    │   ├── RateLimitedError            429 after retries
    │   ├── ServerError                 5xx after retries
    │   ├── TransportError              timeouts and connection failures after retries
    │   └── ProtocolError               an answer kbctl cannot read (malformed JSON, bad shape)
    ├── PlanFileError          exit 1   a saved plan that cannot be read
    ├── StalePlanError         exit 4   live state or manifest changed since the plan was made
    ├── ConcurrentChangeError  exit 4   the agent changed during apply
    ├── PolicyError            exit 5   protect/max_deletes/destroy-all, no --allow-destroy
    ├── IndexGateError         exit 3   stopped at the index/retrieval gate; agent unchanged
    ├── ChecksFailedError      exit 3   `kbctl check`: retrieval coverage below min_coverage
    ├── ApplyError             exit 1   apply failed after touching something; says what was done
    ├── VerificationError      exit 1   the agent read back differs from what was written
    ├── SnapshotError          exit 1   unknown, corrupt or foreign snapshot
    ├── UsageError             exit 1   a command used in a way that cannot work
    └── InterruptedRunError    exit 130 stopped by SIGINT at a safe point (says what was done)
        └── TerminatedRunError exit 143 stopped by SIGTERM
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """Exit codes of DESIGN.md §8, in one place."""

    OK = 0
    ERROR = 1
    CHANGES = 2
    INDEX_GATE = 3
    STALE = 4
    POLICY = 5
    INTERRUPTED = 130  # 128 + SIGINT
    TERMINATED = 143  # 128 + SIGTERM


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in an input file, with where it is."""

    file: str
    line: int | None
    path: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def location(self) -> str:
        """`file:line` (or just `file`), for messages and annotations."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.location()}{where}: {self.message}"


class KbctlError(Exception):
    """Root of every error kbctl expects."""

    exit_code: ClassVar[ExitCode] = ExitCode.ERROR

    def __init__(self, summary: str, *, detail: str | None = None, hint: str | None = None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail
        self.hint = hint

    def __str__(self) -> str:
        parts = [self.summary]
        if self.detail:
            parts.append(self.detail)
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        return "\n".join(parts)


class ManifestError(KbctlError):
    """The manifests have problems; `diagnostics` lists every one."""

    def __init__(
        self,
        summary: str,
        diagnostics: tuple[Diagnostic, ...] = (),
        *,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        if detail is None and diagnostics:
            detail = "\n".join(str(d) for d in diagnostics)
        super().__init__(summary, detail=detail, hint=hint)
        self.diagnostics = diagnostics


class ApiError(KbctlError):
    """The ElevenLabs API (or the network to it) failed."""

    def __init__(
        self,
        summary: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(summary, detail=detail, hint=hint)
        self.method = method
        self.path = path
        self.status = status
        self.code = code


class AuthError(ApiError):
    """401, or no usable key at all."""


class PermissionDeniedError(ApiError):
    """403: the key is valid but lacks the permission (key scope, protected branch)."""


class NotFoundError(ApiError):
    """404."""


class RateLimitedError(ApiError):
    """429 after every retry."""


class ServerError(ApiError):
    """5xx after every retry."""


class TransportError(ApiError):
    """Timeout or connection failure after every retry."""


class ProtocolError(ApiError):
    """An answer kbctl cannot read."""


class PlanFileError(KbctlError):
    """A saved plan file is unreadable or of an unknown format."""


class StalePlanError(KbctlError):
    """The saved plan no longer matches the live state or the manifest."""

    exit_code = ExitCode.STALE


class ConcurrentChangeError(KbctlError):
    """Someone else changed the agent while kbctl was applying."""

    exit_code = ExitCode.STALE


class PolicyError(KbctlError):
    """Refused by policy (`protect`, `max_deletes`, removing everything) without --allow-destroy."""

    exit_code = ExitCode.POLICY


class IndexGateError(KbctlError):
    """Apply stopped before touching the agent: documents did not index (or checks failed)."""

    exit_code = ExitCode.INDEX_GATE


class ChecksFailedError(KbctlError):
    """`kbctl check`: the live agent's retrieval coverage is below `min_coverage`."""

    exit_code = ExitCode.INDEX_GATE


class ApplyError(KbctlError):
    """Apply failed after it had started changing things."""


class VerificationError(KbctlError):
    """The agent, read back after the update, is not what kbctl wrote."""


class SnapshotError(KbctlError):
    """A snapshot is unknown, corrupt, or belongs elsewhere."""


class UsageError(KbctlError):
    """A command was used in a way that cannot work."""


class InterruptedRunError(KbctlError):
    """A run stopped on request (SIGINT) at a safe point; the detail says what was done."""

    exit_code = ExitCode.INTERRUPTED


class TerminatedRunError(InterruptedRunError):
    """A run stopped on request (SIGTERM) at a safe point."""

    exit_code = ExitCode.TERMINATED
