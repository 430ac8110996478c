"""What a manifest file declares, before any environment is chosen: typed, located, un-interpolated.

Owns the intermediate types between parsed YAML and `kbctl.model.Target`: every string keeps its
`${VAR}` references and its location, so that resolving an environment can interpolate it and
still point at the right line. Pure data; reading files is `sources`, resolving is `resolve`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from kbctl.chunking import Chunking, Metadata
from kbctl.model import ChecksPolicy, DocType, ProviderKind, Rollout, UsageMode

#: A value of a `rag` or `policy` field, already type-checked by the schema.
Setting = bool | int | float | str
#: The fields a `rag` or `policy` block sets, in file order (omitted fields are absent).
Settings = tuple[tuple[str, Setting], ...]


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a value is: 1-based line (None if unknown) and its path in the document."""

    line: int | None
    path: str


@dataclass(frozen=True, slots=True)
class Str:
    """A string from the manifest, `${VAR}` references not yet interpolated.

    `variables` is True only for the fields that interpolate (see `interpolate.VARIABLE_FIELDS`);
    every other string is taken literally (only `$${` → `${`).
    """

    value: str
    loc: Loc
    variables: bool = False


@dataclass(frozen=True, slots=True)
class Where:
    """Where a manifest's paths point: its directory, and the repository they must stay in."""

    base_dir: Path  # paths in the manifest resolve against this, never against the cwd
    root: Path  # the git work tree holding the manifest (else base_dir), symlinks resolved
    shown_dir: str  # base_dir as the user would write it, for messages


class SourceKind(StrEnum):
    """The four ways to declare documents."""

    GLOB = "glob"
    TEXT = "text"
    URL = "url"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class DocDecl:
    """One item of a `documents` list."""

    kind: SourceKind
    source: Str  # the glob, text, url or file value
    key: Str | None
    usage_mode: UsageMode
    loc: Loc  # the list item, e.g. `documents[2]`
    exclude: tuple[Str, ...] = ()  # glob only: patterns whose matches are left out
    metadata: Metadata = ()  # openai: on a glob, for every matched file
    chunking: Chunking | None = None  # openai: overrides the manifest's


@dataclass(frozen=True, slots=True)
class CheckDecl:
    """One retrieval check."""

    query: Str
    expect: tuple[Str, ...]
    top_k: int
    loc: Loc
    expect_text: Str | None = None
    filters: Metadata = ()  # OpenAI: the search's attribute filter (each key equal)


@dataclass(frozen=True, slots=True)
class EnvDecl:
    """One entry of `environments`: settings plus overlays on the top level."""

    name: str
    loc: Loc
    provider: ProviderKind  # effective: the environment's, else the manifest's, else elevenlabs
    agent_id: Str | None
    vector_store_id: Str | None
    vector_store_name: Str | None
    base_url: Str | None
    api_key_env: str | None
    protect: bool
    rag: Settings
    policy: Settings
    documents: tuple[DocDecl, ...]
    checks: tuple[CheckDecl, ...]
    rollout: Rollout = field(default_factory=Rollout)


@dataclass(frozen=True, slots=True)
class Loaded:
    """One document read from disk (or made from inline text or a URL), ready to hash."""

    key: str  # the default key: the path relative to the manifest's directory, posix
    doc_type: DocType
    content: bytes = field(repr=False)
    content_hash: str
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Sidecar:
    """The metadata of a `<file>.metadata.yaml` beside a document file."""

    file: str  # as shown in messages
    metadata: Metadata


@dataclass(frozen=True, slots=True)
class ManifestDecl:
    """Everything one manifest file declares."""

    file: str  # as given on the command line
    where: Where
    project: str
    project_line: int | None
    rag: Settings
    policy: Settings
    documents: tuple[DocDecl, ...]
    environments: tuple[EnvDecl, ...]
    checks: tuple[CheckDecl, ...]
    checks_policy: ChecksPolicy
    vector_store_id: Str | None = None  # openai, manifest level (an environment's wins)
    vector_store_name: Str | None = None
    chunking: Chunking | None = None  # openai, manifest level (a document's wins)
    notify_webhook_env: str | None = None  # `notify.webhook_env`
    #: Sidecar `<file>.metadata.yaml` files read at load time, by document path (openai only).
    sidecars: Mapping[str, Sidecar] = field(default_factory=dict, compare=False)
    #: Documents read at load time (glob and file declarations without `${VAR}`), by the
    #: declaration's path; the rest are read when an environment is resolved.
    expansions: Mapping[str, tuple[Loaded, ...]] = field(default_factory=dict, compare=False)
    #: False when loading found problems: checks then cannot trust the list of keys.
    complete: bool = True

    def environment(self, name: str) -> EnvDecl | None:
        """The environment called `name`, if declared."""
        for env in self.environments:
            if env.name == name:
                return env
        return None
