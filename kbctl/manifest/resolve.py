"""One manifest + one environment → `kbctl.model.Target`.

Owns: the environment overlay (`rag` and `policy` deep-merged over the top level, `documents`
and `checks` appended), `${VAR}` interpolation with its unset-variable diagnostics, defaults
per provider (`base_url`, `api_key_env`), the OpenAI vector store, document keys (defaults,
validity, uniqueness, a `file:` entry overriding a glob), OpenAI metadata (declaration, then
sidecar) and chunking, and the checks' `expect` keys. Strict mode (every command with `-e`)
makes an unset variable an error; lenient mode (`kbctl validate` without `-e`) makes it a
warning and leaves out what depends on it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

from kbctl import chunking as limits
from kbctl.chunking import Chunking, Metadata
from kbctl.errors import Diagnostic
from kbctl.identity import SEPARATOR, canonical_text
from kbctl.manifest.decl import (
    CheckDecl,
    DocDecl,
    EnvDecl,
    Loaded,
    Loc,
    ManifestDecl,
    Settings,
    SourceKind,
    Str,
)
from kbctl.manifest.interpolate import interpolate, key_leak, literal
from kbctl.manifest.sources import is_blank, text_document, url_document, url_problem
from kbctl.model import (
    Check,
    DocType,
    DocumentSpec,
    Policy,
    ProviderKind,
    RagSettings,
    SmallDocumentPolicy,
    SourceRef,
    Target,
)

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
DEFAULT_API_KEY_ENV = "ELEVENLABS_API_KEY"
OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_API_KEY_ENV = "OPENAI_API_KEY"
_FROM_DISK = (SourceKind.FILE, SourceKind.GLOB)


class _OpenAIFields(TypedDict, total=False):
    metadata: Metadata
    chunking: Chunking


_BASE_URL_SCHEMES = ("https://", "http://", "emulator://")
_TWO_GLOBS = "; leave it out of one glob with 'exclude:', or declare it with 'file:' to override"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The target (None when there are errors) and every problem found on the way."""

    target: Target | None
    errors: tuple[Diagnostic, ...]
    warnings: tuple[Diagnostic, ...]
    #: The documents resolved, also in lenient mode when the target is incomplete.
    documents: tuple[DocumentSpec, ...] = ()


def resolve(
    decl: ManifestDecl, environment: str, environ: Mapping[str, str], *, strict: bool = True
) -> Resolution:
    """Resolve `decl` for `environment`, interpolating from `environ`."""
    env = decl.environment(environment)
    if env is None:
        known = [e.name for e in decl.environments]
        message = f"unknown environment '{environment}'; known: {', '.join(known) or 'none'}"
        close = difflib.get_close_matches(environment, known, n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
        diag = Diagnostic(decl.file, None, "environments", message)
        return Resolution(None, (diag,), ())
    return _Resolver(decl, environ, strict).target(env)


def merge_settings(base: Settings, overlay: Settings) -> dict[str, bool | int | float | str]:
    """Deep-merge an overlay over a base (both are flat: a field in the overlay wins)."""
    merged = dict(base)
    merged.update(overlay)
    return merged


class _Resolver:
    def __init__(self, decl: ManifestDecl, environ: Mapping[str, str], strict: bool) -> None:
        self.decl = decl
        self.environ = environ
        self.strict = strict
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.incomplete = not decl.complete  # keys may be missing: do not judge `expect`
        self.key_env = DEFAULT_API_KEY_ENV
        self.provider = ProviderKind.ELEVENLABS

    def error(self, loc: Loc, message: str) -> None:
        self.errors.append(Diagnostic(self.decl.file, loc.line, loc.path, message))

    def text(self, value: Str) -> str | None:
        """The field's value (interpolated if it is one of the fields that interpolate), or None
        when it names an unset variable, the API key, or holds a `${…}` where none is allowed.
        """
        if not value.variables:
            taken = literal(value.value)
            if taken.references or taken.malformed:  # reported when loading
                self.incomplete = True
                return None
            return taken.value
        result = interpolate(value.value, self.environ)
        for name in result.missing:
            diag = Diagnostic(
                self.decl.file,
                value.loc.line,
                value.loc.path,
                f"environment variable {name} is not set",
                "error" if self.strict else "warning",
            )
            (self.errors if self.strict else self.warnings).append(diag)
        if result.missing or result.malformed:  # malformed: reported when loading
            self.incomplete = True
            return None
        leak = key_leak(value.value, result, self.environ, self.key_env)
        if leak is not None:
            self.error(value.loc, leak)
            return None
        return result.value

    def target(self, env: EnvDecl) -> Resolution:
        self.provider = env.provider
        openai = env.provider is ProviderKind.OPENAI
        self.key_env = env.api_key_env or (OPENAI_API_KEY_ENV if openai else DEFAULT_API_KEY_ENV)
        store_id = store_name = None
        if openai:
            store_id, store_name = self._vector_store(env)
            agent_id = store_id or store_name
        else:
            agent_id = self._agent_id(env)
        base_url = self._base_url(env, OPENAI_BASE_URL if openai else DEFAULT_BASE_URL)
        rag = merge_settings(self.decl.rag, env.rag)
        policy = merge_settings(self.decl.policy, env.policy)
        documents = self._documents((*self.decl.documents, *env.documents))
        checks = self._checks((*self.decl.checks, *env.checks), {d.key for d in documents})
        if self.errors or agent_id is None or base_url is None:
            return Resolution(None, tuple(self.errors), tuple(self.warnings), documents)
        target = Target(
            manifest=self.decl.file,
            project=self.decl.project,
            environment=env.name,
            agent_id=agent_id,
            base_url=base_url,
            api_key_env=self.key_env,
            protect=env.protect,
            rag=RagSettings() if openai else _rag_settings(rag),
            policy=Policy(
                index_timeout=float(policy.get("index_timeout", 180.0)),
                small_documents=SmallDocumentPolicy(str(policy.get("small_documents", "prompt"))),
                max_deletes=int(policy.get("max_deletes", 10)),
                delete_wait=float(policy.get("delete_wait", 60.0)),
            ),
            documents=documents,
            checks=checks,
            checks_policy=self.decl.checks_policy,
            provider=env.provider,
            vector_store_id=store_id,
            vector_store_name=store_name,
            rollout=env.rollout,
            notify_webhook_env=self.decl.notify_webhook_env,
        )
        return Resolution(target, tuple(self.errors), tuple(self.warnings), documents)

    def _vector_store(self, env: EnvDecl) -> tuple[str | None, str | None]:
        """(id, name) of the store: the environment's declaration, else the manifest's."""
        declared = env.vector_store_id is not None or env.vector_store_name is not None
        store_id = env.vector_store_id if declared else self.decl.vector_store_id
        store_name = env.vector_store_name if declared else self.decl.vector_store_name
        if store_id is not None:
            value = self.text(store_id)
            if value is None:
                return None, None
            if not value.startswith("vs_") or len(value) == 3 or value != value.strip():
                self.error(store_id.loc, f"vector_store_id '{value}' must look like vs_...")
                return None, None
            return value, None
        if store_name is not None:
            value = self.text(store_name)
            if value is not None and not value.strip():
                self.error(store_name.loc, "the vector store's name is empty")
                return None, None
            return None, value
        return None, None  # reported when loading

    def _agent_id(self, env: EnvDecl) -> str | None:
        if env.agent_id is None:
            return None  # missing: the schema reported it
        value = self.text(env.agent_id)
        if value is not None and not value.strip():
            names = interpolate(env.agent_id.value, {}).references
            why = f" ({', '.join(names)} is empty)" if names else ""
            self.error(env.agent_id.loc, f"agent_id is empty{why}")
            return None
        return value.strip() if value is not None else None

    def _base_url(self, env: EnvDecl, default: str) -> str | None:
        if env.base_url is None:
            return default
        value = self.text(env.base_url)
        if value is None:
            return None
        scheme = next((s for s in _BASE_URL_SCHEMES if value.startswith(s)), None)
        if scheme is None or len(value) == len(scheme):
            self.error(
                env.base_url.loc,
                f"base_url '{value}' must be an http(s) URL or emulator://PATH",
            )
            return None
        return value

    def _documents(self, decls: tuple[DocDecl, ...]) -> tuple[DocumentSpec, ...]:
        specs: list[DocumentSpec] = []
        first: dict[str, SourceRef] = {}
        # A `file:` entry overrides the settings a glob would give the same file: the glob
        # leaves that file to it (in this environment, top-level and overlay entries alike).
        overridden = frozenset(
            loaded.key
            for decl in decls
            if decl.kind is SourceKind.FILE
            for loaded in self.decl.expansions.get(decl.loc.path, ())
        )
        for decl in decls:
            for spec in self._document(decl, overridden):
                seen = first.get(spec.key)
                origin = spec.origin
                assert origin is not None
                if seen is not None:
                    where = f"{seen.file}:{seen.line} {seen.path}" if seen.line else seen.path
                    self.error(
                        Loc(origin.line, origin.path),
                        f"duplicate document key '{spec.key}' (also declared at {where})"
                        + (_TWO_GLOBS if decl.kind is SourceKind.GLOB else ""),
                    )
                    continue
                first[spec.key] = origin
                specs.append(spec)
        return tuple(specs)

    def _document(self, decl: DocDecl, overridden: frozenset[str]) -> tuple[DocumentSpec, ...]:
        source = self.text(decl.source)
        key = self.text(decl.key) if decl.key is not None else None
        if source is None or (decl.key is not None and key is None):
            return ()
        if decl.kind is SourceKind.TEXT and key is None:
            return ()  # the schema reported the missing key
        loaded: tuple[Loaded, ...]
        if decl.kind is SourceKind.TEXT:
            if is_blank(canonical_text(source)):
                self.error(decl.source.loc, "text is blank: an empty document cannot be uploaded")
                return ()
            loaded = (text_document(key or "", source),)
        elif decl.kind is SourceKind.URL:
            problem = url_problem(source)
            if problem is not None:
                self.error(decl.source.loc, problem)
                return ()
            loaded = (url_document(source),)
        else:  # read when loading (paths never interpolate)
            loaded = self.decl.expansions.get(decl.loc.path, ())
            if decl.kind is SourceKind.GLOB:
                loaded = tuple(d for d in loaded if d.key not in overridden)
        paths = [d.key if decl.kind in _FROM_DISK else None for d in loaded]
        if key is not None:
            loaded = tuple(
                Loaded(key, d.doc_type, d.content, d.content_hash, d.filename) for d in loaded
            )
        out: list[DocumentSpec] = []
        for doc, path in zip(loaded, paths, strict=True):
            problem = key_problem(doc.key)
            if problem is not None:
                self.error(decl.key.loc if decl.key is not None else decl.source.loc, problem)
                continue
            out.append(
                DocumentSpec(
                    key=doc.key,
                    doc_type=doc.doc_type,
                    usage_mode=decl.usage_mode,
                    content=doc.content,
                    content_hash=doc.content_hash,
                    filename=doc.filename,
                    url=source if doc.doc_type is DocType.URL else None,
                    origin=SourceRef(self.decl.file, decl.loc.line, decl.loc.path),
                    **self._openai_fields(decl, doc.key, path),
                )
            )
        return tuple(out)

    def _openai_fields(self, decl: DocDecl, key: str, path: str | None) -> _OpenAIFields:
        """metadata (the declaration's, then the sidecar's per key) and chunking, for OpenAI."""
        if self.provider is not ProviderKind.OPENAI:
            return {}
        merged = dict(decl.metadata)
        sidecar = self.decl.sidecars.get(path) if path is not None else None
        if sidecar is not None:
            merged.update(sidecar.metadata)
        if sidecar is not None and len(merged) > limits.MAX_METADATA_KEYS:  # alone: the schema's
            self.error(
                decl.loc,
                f"{key} has {len(merged)} metadata keys with {sidecar.file}; "
                f"at most {limits.MAX_METADATA_KEYS} "
                f"(the API allows {limits.MAX_ATTRIBUTES}, kbctl keeps "
                f"{limits.RESERVED_ATTRIBUTES} for its marker)",
            )
        chunking = decl.chunking or self.decl.chunking or Chunking()
        return {"metadata": tuple(sorted(merged.items())), "chunking": chunking}

    def _checks(self, decls: tuple[CheckDecl, ...], keys: set[str]) -> tuple[Check, ...]:
        out: list[Check] = []
        for decl in decls:
            query = self.text(decl.query)
            expect: list[str] = []
            for item in decl.expect:
                value = self.text(item)
                if value is None:
                    continue
                if value not in keys and not self.incomplete:
                    close = difflib.get_close_matches(value, sorted(keys), n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    self.error(item.loc, f"expect names unknown document key '{value}'{hint}")
                expect.append(value)
            text = self.text(decl.expect_text) if decl.expect_text is not None else None
            if text is not None and not text.strip():
                assert decl.expect_text is not None
                self.error(decl.expect_text.loc, "expect_text must not be blank")
                text = None
            if decl.filters and self.provider is not ProviderKind.OPENAI:
                self.error(decl.loc, "filters on a check apply to provider openai only")
            if query is not None and query.strip() and expect:
                out.append(
                    Check(
                        query=query,
                        expect=tuple(expect),
                        top_k=decl.top_k,
                        expect_text=text,
                        filters=decl.filters,
                    )
                )
            elif query and not query.strip():  # "" itself is the schema's (minLength) to report
                self.error(decl.query.loc, "query must not be empty")
        return tuple(out)


def _rag_settings(values: Mapping[str, bool | int | float | str]) -> RagSettings:
    def number(name: str) -> float | None:
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def integer(name: str) -> int | None:
        value = number(name)
        return int(value) if value is not None else None

    enabled = values.get("enabled")
    model = values.get("embedding_model")
    return RagSettings(
        enabled=enabled if isinstance(enabled, bool) else None,
        embedding_model=model if isinstance(model, str) else None,
        max_vector_distance=number("max_vector_distance"),
        max_documents_length=integer("max_documents_length"),
        max_retrieved_rag_chunks_count=integer("max_retrieved_rag_chunks_count"),
        num_candidates=integer("num_candidates"),
    )


def key_problem(key: str) -> str | None:
    """Why `key` cannot be a document key, or None when it can."""
    if not key.strip():
        return "document key must not be empty"
    if key != key.strip():
        return f"document key '{key}' must not start or end with whitespace"
    if not key.isprintable():
        return f"document key {key!r} must not contain control or invisible characters"
    if SEPARATOR in key:
        return f"document key '{key}' must not contain '{SEPARATOR}' (kbctl's marker separator)"
    return None
