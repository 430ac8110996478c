"""Provider-specific manifest settings: which provider an environment uses, its vector store,
OpenAI metadata and chunking, and which settings apply to which provider.

Owns the rule that a setting a provider cannot use is an error, not silently ignored: a setting
in an environment is checked against that environment's provider; a top-level setting (or a
top-level document's) is an error only when no environment it reaches can use it, so one
manifest may serve an ElevenLabs agent and an OpenAI store. Works on the parsed data (already
schema-checked) and reports through the builder's `problem`; it reads no files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from kbctl.chunking import (
    MAX_CHUNK_SIZE_TOKENS,
    MIN_CHUNK_SIZE_TOKENS,
    Chunking,
    ChunkingStrategy,
    Metadata,
    MetadataValue,
)
from kbctl.manifest.interpolate import literal
from kbctl.manifest.yamlpos import Json, PathParts
from kbctl.model import ProviderKind

#: Reports a problem at a path of the document.
Problem = Callable[[PathParts, str], None]

_PROVIDERS = tuple(p.value for p in ProviderKind)
#: Keys of an environment (or of the top level) that only one provider uses.
_ENV_ONLY: Mapping[ProviderKind, tuple[str, ...]] = {
    ProviderKind.ELEVENLABS: ("agent_id", "rag"),
    ProviderKind.OPENAI: ("vector_store_id", "vector_store"),
}
_TOP_ONLY: Mapping[ProviderKind, tuple[str, ...]] = {
    ProviderKind.ELEVENLABS: ("rag",),
    ProviderKind.OPENAI: ("vector_store_id", "vector_store", "chunking"),
}
_DOC_ONLY: Mapping[ProviderKind, tuple[str, ...]] = {
    ProviderKind.ELEVENLABS: ("usage_mode",),
    ProviderKind.OPENAI: ("metadata", "chunking"),
}
_POLICY_ONLY: Mapping[ProviderKind, tuple[str, ...]] = {
    ProviderKind.ELEVENLABS: ("small_documents",),
    ProviderKind.OPENAI: (),
}


def provider_of(data: Json, default: ProviderKind = ProviderKind.ELEVENLABS) -> ProviderKind:
    """The `provider` a mapping declares, else `default`."""
    value = data.get("provider") if isinstance(data, dict) else None
    return ProviderKind(value) if isinstance(value, str) and value in _PROVIDERS else default


def check_providers(top: Mapping[str, Json], problem: Problem) -> None:
    """Report settings that no provider reaching them can use, and what a provider needs."""
    manifest_provider = provider_of(dict(top))
    envs = top.get("environments")
    env_items = list(envs.items()) if isinstance(envs, dict) else []
    used: set[ProviderKind] = set()
    for name, env in env_items:
        if not isinstance(env, dict):
            continue
        provider = provider_of(env, manifest_provider)
        used.add(provider)
        parts: PathParts = ("environments", name)
        why = f"{provider} (environment '{name}')"
        _unusable(env, parts, {provider}, _ENV_ONLY, why, problem)
        _unusable_in(env.get("policy"), (*parts, "policy"), {provider}, _POLICY_ONLY, why, problem)
        _unusable_docs(env.get("documents"), (*parts, "documents"), {provider}, why, problem)
        _requirements(top, env, parts, provider, problem)
    if not used:
        return  # no valid environment: the schema reported it
    names = " and ".join(sorted(p.value for p in used))
    why = f"{names}, the provider{'s' if len(used) > 1 else ''} of every environment"
    _unusable(top, (), used, _TOP_ONLY, why, problem)
    _unusable_in(top.get("policy"), ("policy",), used, _POLICY_ONLY, why, problem)
    _unusable_docs(top.get("documents"), ("documents",), used, why, problem)


def _unusable(
    data: Mapping[str, Json],
    parts: PathParts,
    used: set[ProviderKind],
    table: Mapping[ProviderKind, tuple[str, ...]],
    why: str,
    problem: Problem,
) -> None:
    """Report each key of `data` that only providers outside `used` can use."""
    for key in data:
        owners = [p for p, keys in table.items() if key in keys]
        if owners and not any(p in used for p in owners):
            problem((*parts, key), f"'{key}' does not apply to provider {why}")


def _unusable_in(
    data: Json,
    parts: PathParts,
    used: set[ProviderKind],
    table: Mapping[ProviderKind, tuple[str, ...]],
    why: str,
    problem: Problem,
) -> None:
    if isinstance(data, dict):
        _unusable(data, parts, used, table, why, problem)


def _unusable_docs(
    data: Json, parts: PathParts, used: set[ProviderKind], why: str, problem: Problem
) -> None:
    if isinstance(data, list):
        for index, item in enumerate(data):
            _unusable_in(item, (*parts, index), used, _DOC_ONLY, why, problem)


def _requirements(
    top: Mapping[str, Json],
    env: Mapping[str, Json],
    parts: PathParts,
    provider: ProviderKind,
    problem: Problem,
) -> None:
    if provider is ProviderKind.ELEVENLABS:
        if "agent_id" not in env:
            problem(parts, "missing required key 'agent_id'")
        return
    for level, level_parts in ((env, parts), (top, ())):
        if "vector_store_id" in level and "vector_store" in level:
            problem(
                (*level_parts, "vector_store"),
                "give either vector_store_id or vector_store, not both",
            )
    if not any(k in level for level in (env, top) for k in ("vector_store_id", "vector_store")):
        problem(
            parts,
            "provider openai needs vector_store_id: vs_... or vector_store: {name: ...} "
            "(in the environment or at the top level)",
        )


def chunking_of(data: Json, parts: PathParts, problem: Problem) -> Chunking | None:
    """The chunking a `chunking:` value declares (None when absent or invalid)."""
    if data == "auto":
        return Chunking()
    if not isinstance(data, dict):
        return None  # absent, or the schema reported it
    strategy = data.get("strategy")
    size = data.get("max_chunk_size_tokens")
    overlap = data.get("chunk_overlap_tokens")
    sizes = [k for k in ("max_chunk_size_tokens", "chunk_overlap_tokens") if k in data]
    if strategy == "auto":
        for key in sizes:
            problem((*parts, key), f"'{key}' is only allowed with strategy static")
        return Chunking() if not sizes else None
    if strategy != "static":
        return None  # the schema reported it
    for key in ("max_chunk_size_tokens", "chunk_overlap_tokens"):
        if key not in data:
            problem(parts, f"strategy static needs '{key}'")
    if not isinstance(size, int) or not isinstance(overlap, int):
        return None
    if (
        isinstance(size, bool)
        or isinstance(overlap, bool)
        or not MIN_CHUNK_SIZE_TOKENS <= size <= MAX_CHUNK_SIZE_TOKENS
    ):
        return None  # the schema reported it
    if overlap < 0:
        return None
    if overlap * 2 > size:
        problem(
            (*parts, "chunk_overlap_tokens"),
            f"must be at most half of max_chunk_size_tokens ({size // 2}), got {overlap}",
        )
        return None
    return Chunking(ChunkingStrategy.STATIC, size, overlap)


def metadata_of(
    data: Json, parts: PathParts, problem: Problem, *, report_variables: bool = False
) -> Metadata:
    """The valid entries of a `metadata:` mapping, sorted by key (the schema reports the rest).

    Strings are taken literally (`$${` → `${`); a `${…}` in them is an error, reported here
    when `report_variables` (sidecars), else by the manifest's own scan.
    """
    if not isinstance(data, dict):
        return ()
    out: list[tuple[str, MetadataValue]] = []
    for key, value in data.items():
        if isinstance(value, float) and not math.isfinite(value):
            problem((*parts, key), f"must be a finite number (got {value})")
            continue
        if isinstance(value, str):
            taken = literal(value)
            if taken.references or taken.malformed:
                if report_variables:
                    problem(
                        (*parts, key),
                        "metadata is never interpolated: write $${ for a literal ${",
                    )
                continue
            value = taken.value
        if isinstance(value, bool | int | float | str):
            out.append((key, value))
    return tuple(sorted(out))
