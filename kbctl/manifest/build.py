"""Parsed (and schema-checked) YAML data → `ManifestDecl`, plus the checks the schema cannot do.

Owns: turning JSON-like data into typed, located declarations. It is tolerant: when the schema
already reported a value as wrong, the value is left out instead of failing here, so that file
checks on the rest of the manifest still run and every problem is reported at once. Checks
here: `key` with `glob`, malformed `${…}` references, and `${…}` outside the fields that
interpolate (`interpolate.VARIABLE_FIELDS`): in document content, keys, URLs, paths or names a
variable would be a way to exfiltrate a secret, so it is an error rather than literal text.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kbctl.errors import Diagnostic
from kbctl.manifest.containment import repository_root
from kbctl.manifest.decl import (
    CheckDecl,
    DocDecl,
    EnvDecl,
    Loc,
    ManifestDecl,
    Settings,
    SourceKind,
    Str,
    Where,
)
from kbctl.manifest.interpolate import VARIABLE_FIELD_NAMES, interpolate, interpolates, literal
from kbctl.manifest.providers import check_providers, chunking_of, metadata_of, provider_of
from kbctl.manifest.sources import shown_dir
from kbctl.manifest.yamlpos import Json, Lines, PathParts, format_path
from kbctl.model import (
    ChecksPolicy,
    ProviderKind,
    Rollout,
    RolloutStrategy,
    SmallDocumentPolicy,
    UsageMode,
)

_RAG_BOOL = ("enabled",)
_RAG_STR = ("embedding_model",)
_RAG_INT = ("max_documents_length", "max_retrieved_rag_chunks_count", "num_candidates")
_RAG_NUM = ("max_vector_distance",)
_SMALL = tuple(p.value for p in SmallDocumentPolicy)
_ON_FAILURE = ("abort", "warn")
_USAGE = tuple(m.value for m in UsageMode)


def build(
    data: Json, lines: Lines, file: str, base_dir: Path
) -> tuple[ManifestDecl, list[Diagnostic]]:
    """Typed declarations of one manifest, and the problems the schema does not catch."""
    builder = _Builder(lines, file)
    builder.scan_variables(data, ())
    top = data if isinstance(data, dict) else {}
    project = top.get("project")
    envs_data = top.get("environments")
    envs: list[EnvDecl] = []
    provider = provider_of(top)
    if isinstance(envs_data, dict):
        for name, env_data in envs_data.items():
            if isinstance(env_data, dict):
                envs.append(builder.environment(name, env_data, ("environments", name), provider))
    check_providers(top, builder.problem)
    decl = ManifestDecl(
        file=file,
        where=Where(base_dir, repository_root(base_dir), shown_dir(file)),
        project=project if isinstance(project, str) else "",
        project_line=lines.of(("project",)),
        rag=builder.rag(top.get("rag")),
        policy=builder.policy(top.get("policy")),
        documents=builder.documents(top.get("documents"), ("documents",)),
        environments=tuple(envs),
        checks=builder.checks(top.get("checks"), ("checks",)),
        checks_policy=builder.checks_policy(top.get("checks_policy")),
        vector_store_id=builder.string(top, "vector_store_id", ()),
        vector_store_name=builder.store_name(top, ()),
        chunking=chunking_of(top.get("chunking"), ("chunking",), builder.problem),
        notify_webhook_env=_notify(top.get("notify")),
    )
    return decl, builder.diagnostics


class _Builder:
    def __init__(self, lines: Lines, file: str) -> None:
        self.lines = lines
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    def loc(self, parts: PathParts) -> Loc:
        return Loc(self.lines.of(parts), format_path(parts))

    def string(self, obj: Mapping[str, Json], key: str, parts: PathParts) -> Str | None:
        value = obj.get(key)
        if not isinstance(value, str):
            return None
        return Str(value, self.loc((*parts, key)), interpolates((*parts, key)))

    def problem(self, parts: PathParts, message: str) -> None:
        loc = self.loc(parts)
        self.diagnostics.append(Diagnostic(self.file, loc.line, loc.path, message))

    def scan_variables(self, data: Json, parts: PathParts) -> None:
        """Report malformed `${…}`, and any `${…}` in a field that does not interpolate."""
        if isinstance(data, dict):
            for key, value in data.items():
                if "${" in key:
                    self.problem(
                        (*parts, key),
                        f"'{key}': a name cannot hold a variable reference",
                    )
                self.scan_variables(value, (*parts, key))
        elif isinstance(data, list):
            for index, item in enumerate(data):
                self.scan_variables(item, (*parts, index))
        elif isinstance(data, str) and "${" in data:
            if interpolates(parts):
                for bad in interpolate(data, {}).malformed:
                    self.problem(
                        parts,
                        f"malformed variable reference '{bad}': write ${{NAME}}, "
                        "or $${ for a literal ${",
                    )
                return
            found = literal(data)
            for token in (*(f"${{{n}}}" for n in found.references), *found.malformed):
                self.problem(
                    parts,
                    f"'{token}' is not allowed here: variables are read only in "
                    f"{VARIABLE_FIELD_NAMES} (see docs/manifest.md); write $${{ for a "
                    "literal ${",
                )

    def store_name(self, data: Mapping[str, Json], parts: PathParts) -> Str | None:
        store = data.get("vector_store")
        if not isinstance(store, dict):
            return None
        return self.string(store, "name", (*parts, "vector_store"))

    def environment(
        self, name: str, data: dict[str, Json], parts: PathParts, provider: ProviderKind
    ) -> EnvDecl:
        api_key_env = data.get("api_key_env")
        protect = data.get("protect")
        return EnvDecl(
            name=name,
            loc=self.loc(parts),
            provider=provider_of(data, provider),
            agent_id=self.string(data, "agent_id", parts),
            vector_store_id=self.string(data, "vector_store_id", parts),
            vector_store_name=self.store_name(data, parts),
            base_url=self.string(data, "base_url", parts),
            api_key_env=api_key_env if isinstance(api_key_env, str) else None,
            protect=protect if isinstance(protect, bool) else False,
            rag=self.rag(data.get("rag")),
            policy=self.policy(data.get("policy")),
            documents=self.documents(data.get("documents"), (*parts, "documents")),
            checks=self.checks(data.get("checks"), (*parts, "checks")),
            rollout=self.rollout(
                data.get("rollout"), (*parts, "rollout"), provider_of(data, provider)
            ),
        )

    def documents(self, data: Json, parts: PathParts) -> tuple[DocDecl, ...]:
        if not isinstance(data, list):
            return ()
        out: list[DocDecl] = []
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                continue
            item_parts = (*parts, index)
            present = [k for k in SourceKind if isinstance(item.get(k.value), str)]
            if len(present) != 1:
                continue  # the schema reported it
            kind = present[0]
            source = self.string(item, kind.value, item_parts)
            assert source is not None
            key = self.string(item, "key", item_parts)
            if kind is SourceKind.GLOB and key is not None:
                self.diagnostics.append(
                    Diagnostic(
                        self.file,
                        key.loc.line,
                        key.loc.path,
                        "'key' is not allowed with 'glob': each matched file is keyed by its "
                        "path relative to the manifest (use 'file' to choose a key)",
                    )
                )
                key = None
            mode = item.get("usage_mode")
            usage = UsageMode(mode) if isinstance(mode, str) and mode in _USAGE else UsageMode.AUTO
            exclude = self.exclude(item, kind, item_parts)
            metadata = metadata_of(item.get("metadata"), (*item_parts, "metadata"), self.problem)
            chunking = chunking_of(item.get("chunking"), (*item_parts, "chunking"), self.problem)
            loc = self.loc(item_parts)
            out.append(DocDecl(kind, source, key, usage, loc, exclude, metadata, chunking))
        return tuple(out)

    def exclude(
        self, item: Mapping[str, Json], kind: SourceKind, parts: PathParts
    ) -> tuple[Str, ...]:
        data = item.get("exclude")
        if data is None:
            return ()
        if kind is not SourceKind.GLOB:
            self.problem(
                (*parts, "exclude"),
                f"'exclude' is only allowed with 'glob' (this document is a {kind.value})",
            )
            return ()
        if not isinstance(data, list):
            return ()  # the schema reported it
        return tuple(
            Str(pattern, self.loc((*parts, "exclude", index)))
            for index, pattern in enumerate(data)
            if isinstance(pattern, str) and pattern
        )

    def checks(self, data: Json, parts: PathParts) -> tuple[CheckDecl, ...]:
        if not isinstance(data, list):
            return ()
        out: list[CheckDecl] = []
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                continue
            item_parts = (*parts, index)
            query = self.string(item, "query", item_parts)
            expect_data = item.get("expect")
            expect: list[Str] = []
            if isinstance(expect_data, str):
                expect.append(Str(expect_data, self.loc((*item_parts, "expect"))))
            elif isinstance(expect_data, list):
                for j, entry in enumerate(expect_data):
                    if isinstance(entry, str):
                        expect.append(Str(entry, self.loc((*item_parts, "expect", j))))
            top_k = _as_int(item.get("top_k", 3))
            if query is None or not expect:
                continue
            valid_k = top_k if top_k is not None and top_k >= 1 else 3
            text = self.string(item, "expect_text", item_parts)
            filters = metadata_of(item.get("filters"), (*item_parts, "filters"), self.problem)
            loc = self.loc(item_parts)
            out.append(CheckDecl(query, tuple(expect), valid_k, loc, text, filters))
        return tuple(out)

    def rollout(self, data: Json, parts: PathParts, provider: ProviderKind) -> Rollout:
        """`direct` | `branch` | `{strategy, canary_percent}` (shapes checked by the schema)."""
        if data is None:
            return Rollout()
        strategy: Json = data
        canary: int | None = None
        if isinstance(data, dict):
            strategy = data.get("strategy")
            canary = _as_int(data.get("canary_percent"))
        if not isinstance(strategy, str) or strategy not in {s.value for s in RolloutStrategy}:
            return Rollout()
        chosen = RolloutStrategy(strategy)
        if provider is not ProviderKind.ELEVENLABS and chosen is RolloutStrategy.BRANCH:
            self.problem(parts, "a branch rollout needs an agent: provider elevenlabs")
        if canary is not None and chosen is not RolloutStrategy.BRANCH:
            self.problem((*parts, "canary_percent"), "canary_percent needs strategy: branch")
            canary = None
        if canary is not None and not 1 <= canary <= 99:
            canary = None  # reported by the schema
        return Rollout(chosen, canary)

    def rag(self, data: Json) -> Settings:
        if not isinstance(data, dict):
            return ()
        out: list[tuple[str, bool | int | float | str]] = []
        for key, value in data.items():
            setting: bool | int | float | str | None = None
            if (key in _RAG_BOOL and isinstance(value, bool)) or (
                key in _RAG_STR and isinstance(value, str)
            ):
                setting = value
            elif key in _RAG_INT:
                setting = _as_int(value)
            elif key in _RAG_NUM:
                setting = _as_number(value)
            if setting is not None:
                out.append((key, setting))
        return tuple(out)

    def policy(self, data: Json) -> Settings:
        if not isinstance(data, dict):
            return ()
        out: list[tuple[str, bool | int | float | str]] = []
        timeout = _as_number(data.get("index_timeout"))
        if timeout is not None and timeout > 0:
            out.append(("index_timeout", timeout))
        small = data.get("small_documents")
        if isinstance(small, str) and small in _SMALL:
            out.append(("small_documents", small))
        max_deletes = _as_int(data.get("max_deletes"))
        if max_deletes is not None and max_deletes >= 0:
            out.append(("max_deletes", max_deletes))
        delete_wait = _as_number(data.get("delete_wait"))
        if delete_wait is not None and delete_wait >= 0:
            out.append(("delete_wait", delete_wait))
        return tuple(out)

    def checks_policy(self, data: Json) -> ChecksPolicy:
        if not isinstance(data, dict):
            return ChecksPolicy()
        coverage = _as_number(data.get("min_coverage"))
        at_1 = _as_number(data.get("min_coverage_at_1"))
        on_failure = data.get("on_failure")
        return ChecksPolicy(
            min_coverage_at_1=at_1 if at_1 is not None and 0 <= at_1 <= 1 else None,
            min_coverage=coverage if coverage is not None and 0 <= coverage <= 1 else 1.0,
            on_failure=on_failure
            if isinstance(on_failure, str) and on_failure in _ON_FAILURE
            else "abort",
        )


def _notify(data: Json) -> str | None:
    """`notify.webhook_env`, when it is a variable name (the schema reports the rest)."""
    if not isinstance(data, dict):
        return None
    name = data.get("webhook_env")
    return name if isinstance(name, str) and name.isidentifier() else None


def _as_int(value: Json) -> int | None:
    """The value as an int, if it is an integer (3 or 3.0, not true)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_number(value: Json) -> float | None:
    """The value as a float, if it is a number (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
