"""One manifest + one environment → `kbctl.model.Target`.

Owns: the environment overlay (`rag` and `policy` deep-merged over the top level, `documents`
and `checks` appended), `${VAR}` interpolation with its unset-variable diagnostics, defaults
(`base_url`, `api_key_env`), document keys (defaults, validity, uniqueness) and the checks'
`expect` keys. Strict mode (every command with `-e`) makes an unset variable an error; lenient
mode (`kbctl validate` without `-e`) makes it a warning and leaves out what depends on it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

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
from kbctl.manifest.interpolate import KEY_VARIABLES, interpolate, literal
from kbctl.manifest.sources import is_blank, text_document, url_document, url_problem
from kbctl.model import (
    Check,
    DocType,
    DocumentSpec,
    Policy,
    RagSettings,
    SmallDocumentPolicy,
    SourceRef,
    Target,
)

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
DEFAULT_API_KEY_ENV = "ELEVENLABS_API_KEY"
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
        if self._holds_key(value, result.references, result.value):
            return None
        return result.value

    def _holds_key(self, value: Str, names: tuple[str, ...], result: str) -> bool:
        """Report (and return True) when interpolation would put an API key into a field."""
        key_names = (self.key_env, *KEY_VARIABLES)
        keys = {v for v in (self.environ.get(n) for n in key_names) if v and v.strip()}
        for name in names:
            if name in key_names:
                why = f"{name} holds an API key"
            elif self.environ.get(name) in keys:
                why = f"{name} has the same value as the API key"
            else:
                continue
            self.error(
                value.loc,
                f"${{{name}}} cannot be used: {why}, and an API key never goes into "
                "a manifest value",
            )
            return True
        # Split across variables: only keys long enough to be real, and not in the text itself.
        if any(len(key) >= 8 and key in result and key not in value.value for key in keys):
            self.error(
                value.loc,
                "the value would contain the API key: an API key never goes into a manifest value",
            )
            return True
        return False

    def target(self, env: EnvDecl) -> Resolution:
        self.key_env = env.api_key_env or DEFAULT_API_KEY_ENV
        agent_id = self._agent_id(env)
        base_url = self._base_url(env)
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
            api_key_env=env.api_key_env or DEFAULT_API_KEY_ENV,
            protect=env.protect,
            rag=_rag_settings(rag),
            policy=Policy(
                index_timeout=float(policy.get("index_timeout", 180.0)),
                small_documents=SmallDocumentPolicy(str(policy.get("small_documents", "prompt"))),
                max_deletes=int(policy.get("max_deletes", 10)),
            ),
            documents=documents,
            checks=checks,
            checks_policy=self.decl.checks_policy,
        )
        return Resolution(target, tuple(self.errors), tuple(self.warnings), documents)

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

    def _base_url(self, env: EnvDecl) -> str | None:
        if env.base_url is None:
            return DEFAULT_BASE_URL
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
        if key is not None:
            loaded = tuple(
                Loaded(key, d.doc_type, d.content, d.content_hash, d.filename) for d in loaded
            )
        out: list[DocumentSpec] = []
        for doc in loaded:
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
                )
            )
        return tuple(out)

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
            if query is not None and query.strip() and expect:
                out.append(Check(query=query, expect=tuple(expect), top_k=decl.top_k))
            elif query is not None and not query.strip():
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
