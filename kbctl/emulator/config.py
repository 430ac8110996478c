"""How an emulator behaves: limits, timing, injected faults and the toggles for API behaviour the
reference marks UNCONFIRMED.

Owns `EmulatorConfig` and reading overrides from `emulator://PATH?key=value` query strings. Must
not hold state or know about HTTP: it is a frozen value handed to `World` and `EmulatorApp`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, fields

from kbctl.errors import UsageError


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything that can be tuned about an emulator (docs/emulator.md lists each field)."""

    api_key: str | None = None  # None: any non-empty key; a missing header is still 401
    index_seconds: float = 2.0
    min_index_bytes: int = 500
    rag_quota_bytes: int = 20 * 1024 * 1024
    latency_ms: float = 0.0
    max_concurrency: int | None = None
    fail_rate: float = 0.0
    fail_index_containing: tuple[str, ...] = ()
    seed: int = 0
    # UNCONFIRMED behaviour of the real API, configurable:
    delete_in_use_status: int = 409
    unknown_kb_id_status: int = 400
    auto_index_on_attach: bool = False
    content_patch_allowed: bool = True
    retry_after_on_429: bool = False
    # Test-only fault: the write happens, then the answer is a 500.
    fail_after_write_rate: float = 0.0
    # Behaviours of the live API a reconciler meets (reference §16), each off by default:
    index_pending_status: str | None = None  # an extra, unknown status before `processing`
    url_content_bytes: int | None = None  # size of the page "fetched" for URL documents
    dependency_lag_seconds: float = 0.0  # delete still refused this long after the last use
    rename_propagates: bool = False  # agents' knowledge_base[].name follows the document
    edit_drops_indexes: bool = True  # an in-place content edit drops the document's indexes
    protect_main: bool = False  # main branches need admin rights (the caller has none): 403
    no_rag_query: bool = False  # the rag-query endpoint answers 404, as older deployments do
    # OpenAI vector stores (`kbctl.emulator.openai`): stores to pre-create (`--vector-store`),
    # then behaviour the reference marks UNCONFIRMED.
    vector_store: tuple[str, ...] = ()
    openai_reattach: str = "existing"  # attaching an attached File: existing | replace | error
    openai_attributes_update: str = "replace"  # replace | merge
    openai_file_delete_detaches: bool = True  # False: the store keeps listing a deleted File
    # True: `GET /files/{id}/content` gives back Files of any purpose (as the reference reads);
    # the live API refuses `assistants` and `user_data` Files ("Not allowed to download …").
    openai_download_any_purpose: bool = False

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.index_seconds < 0:
            problems.append("index_seconds must be >= 0")
        if self.min_index_bytes < 0:
            problems.append("min_index_bytes must be >= 0")
        if self.rag_quota_bytes < 0:
            problems.append("rag_quota_bytes must be >= 0")
        if self.latency_ms < 0:
            problems.append("latency_ms must be >= 0")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            problems.append("max_concurrency must be >= 1")
        for name in ("fail_rate", "fail_after_write_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be between 0 and 1")
        for name in ("delete_in_use_status", "unknown_kb_id_status"):
            if not 400 <= getattr(self, name) <= 499:
                problems.append(f"{name} must be a 4xx status")
        if self.index_pending_status is not None and not self.index_pending_status.strip():
            problems.append("index_pending_status must not be empty")
        if self.url_content_bytes is not None and self.url_content_bytes < 0:
            problems.append("url_content_bytes must be >= 0")
        if self.dependency_lag_seconds < 0:
            problems.append("dependency_lag_seconds must be >= 0")
        problems.extend(_openai_problems(self))
        if any(not text for text in self.fail_index_containing):
            problems.append("fail_index_containing texts must not be empty")
        if problems:
            raise UsageError(
                "Invalid emulator settings",
                detail="\n".join(problems),
                hint="Fix the values named above (`kbctl emulator serve --help` lists them).",
            )


def _openai_problems(config: EmulatorConfig) -> list[str]:
    problems = [
        f"vector store id {vs!r} must start with vs_ and hold only letters, digits, _ and -"
        for vs in config.vector_store
        if not re.fullmatch(r"vs_[A-Za-z0-9_-]+", vs)
    ]
    if config.openai_reattach not in ("existing", "replace", "error"):
        problems.append("openai_reattach must be existing, replace or error")
    if config.openai_attributes_update not in ("replace", "merge"):
        problems.append("openai_attributes_update must be replace or merge")
    return problems


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(name: str, raw: str, kind: str) -> object:
    """Parse one `key=value` override for the field `name` of type `kind` (its annotation)."""
    try:
        if kind == "bool":
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "int | None":
            return None if raw.strip().lower() in ("", "none") else int(raw)
        if kind == "str | None":
            return raw or None
        if kind == "str":
            return raw
        if kind == "tuple[str, ...]":
            return (raw,) if raw else ()
    except ValueError:
        pass
    raise UsageError(f"Invalid emulator setting {name}={raw!r}", hint=f"{name} takes a {kind}")


def config_with_overrides(base: EmulatorConfig, params: dict[str, str]) -> EmulatorConfig:
    """`base` with the fields named in `params` (strings, e.g. from a URL query) replaced."""
    kinds = {f.name: str(f.type) for f in fields(EmulatorConfig)}
    changes: dict[str, object] = {}
    for name, raw in params.items():
        if name not in kinds:
            known = ", ".join(sorted(kinds))
            raise UsageError(f"Unknown emulator setting {name!r}", hint=f"Known settings: {known}")
        changes[name] = _convert(name, raw, kinds[name])
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]
