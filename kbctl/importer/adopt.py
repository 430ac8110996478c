"""`kbctl import`: adopt an agent whose knowledge base was built by hand.

Owns turning a live agent into a manifest plus document files, and adopting its documents so the
next `kbctl plan` is a no-op and the first apply re-uploads nothing:

1. read the agent and every document attached to it (text through the content endpoint, the
   URL of URL documents, the extracted text of uploaded files);
2. write `DIR/<project>.yaml` (manifest v1) and `DIR/docs/<slug>.md`;
3. load that manifest back with kbctl's own loader and check every key and hash is what will be
   adopted (nothing is renamed if the manifest would not match);
4. adopt: rename each document in place to kbctl's marker name for its content hash, then write
   the agent's `knowledge_base` once with the new names (same ids, order and usage modes).

Documents it cannot adopt (folders, another kbctl project's documents, a URL it cannot read)
stay attached and unmanaged: kbctl never touches those. Never prints; the CLI renders the result.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from kbctl.errors import UsageError
from kbctl.identity import canonical_text, content_hash, document_name, parse_marker
from kbctl.importer.manifest_text import manifest_text
from kbctl.manifest import DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL, load_manifests
from kbctl.model import (
    MIN_INDEX_BYTES,
    DocType,
    KbEntry,
    LiveAgent,
    ProviderKind,
    UsageMode,
)
from kbctl.provider.base import Provider

DOCS_DIR = "docs"
_PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ENV_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ImportProvider(Provider, Protocol):
    """What import needs beyond the `Provider` protocol: the URL of a URL document."""

    def document_url(self, doc_id: str) -> str | None:
        """The source URL of a URL document (None when the API does not say)."""
        ...


@dataclass(frozen=True, slots=True)
class ImportedDocument:
    """One attached document and what import did with it.

    Attributes:
        key: the manifest key it was adopted under; None when left unmanaged.
        path: the file written for it, relative to the output directory.
        new_name: the marker name it got (None when not renamed).
    """

    id: str
    name: str
    doc_type: DocType
    usage_mode: UsageMode
    key: str | None
    content_hash: str | None = None
    path: str | None = None
    url: str | None = None
    new_name: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What `import_agent` wrote and changed."""

    manifest_path: Path
    project: str
    environment: str
    agent_id: str
    agent_name: str
    documents: tuple[ImportedDocument, ...]
    renamed: int
    agent_updated: bool
    notes: tuple[str, ...]
    #: OpenAI: `agent_id`/`agent_name` are the store's, `renamed` counts the files whose
    #: attributes were written, `sidecars` the metadata files written.
    provider: ProviderKind = ProviderKind.ELEVENLABS
    sidecars: int = 0


def slugify(text: str, *, fallback: str = "document") -> str:
    """Lowercase ASCII letters, digits and dashes (`Booking Rules.md` → `booking-rules`)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    stem = re.sub(r"\.(md|markdown|txt|pdf|docx|html?|epub)$", "", ascii_text.strip(), flags=re.I)
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return slug[:60].strip("-") or fallback


def check_output_dir(out_dir: Path, *, force: bool) -> None:
    """Refuse to write into a non-empty directory without `force` (before any API call)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise UsageError(
            f"{out_dir} is not empty",
            detail="kbctl import writes a manifest and a docs/ folder there.",
            hint="Pick an empty (or new) directory, or pass --force to overwrite files in it.",
        )


def check_names(environment: str, project: str | None) -> None:
    """Refuse an environment or project name a manifest cannot hold (before any API call)."""
    if not _ENV_RE.match(environment):
        raise UsageError(
            f"Environment name {environment!r} is not valid in a manifest",
            hint="Use lowercase letters, digits, '_' and '-', starting with a letter or digit.",
        )
    if project is not None and not _PROJECT_RE.match(project):
        raise UsageError(
            f"Project name {project!r} is not valid",
            hint="Use lowercase letters, digits and dashes, e.g. birby-quarters.",
        )


def import_agent(
    provider: ImportProvider,
    *,
    environment: str,
    agent_id: str,
    out_dir: Path,
    project: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    force: bool = False,
) -> ImportResult:
    """Write a manifest for `agent_id`'s knowledge base and adopt its documents.

    Args:
        provider: the workspace of the agent.
        environment: the manifest environment the agent becomes.
        agent_id: the agent to import.
        out_dir: where the manifest and docs/ go.
        project: the manifest's project (default: a slug of the agent's name).
        base_url: written into the environment when it is not the default API.
        api_key_env: written into the environment when it is not ELEVENLABS_API_KEY.
        force: write into a non-empty `out_dir`.

    Raises:
        UsageError: bad names or a non-empty directory (checked before any API call).
        ManifestError: the written manifest does not load (nothing is renamed then).
    """
    check_names(environment, project)
    check_output_dir(out_dir, force=force)

    agent = provider.get_agent(agent_id)
    project = project or slugify(agent.name, fallback="imported")
    live = provider.read_state(agent_id, project, environment, with_quota=False)
    docs: list[ImportedDocument] = []
    files: dict[str, bytes] = {}
    notes: list[str] = []
    used_paths: set[str] = set()
    used_keys: set[str] = set()
    seen: set[str] = set()
    for entry in agent.knowledge_base:
        if entry.id in seen:
            continue
        seen.add(entry.id)
        doc = live.document(entry.id)
        name = doc.name if doc is not None else entry.name
        doc_type = doc.doc_type if doc is not None else entry.doc_type
        imported = _import_one(
            provider,
            entry,
            name,
            doc_type,
            project=project,
            environment=environment,
            used_paths=used_paths,
            used_keys=used_keys,
            files=files,
        )
        docs.append(imported)
        if imported.note:
            notes.append(f"{name!r} ({entry.id}): {imported.note}")

    manifest_path = out_dir / f"{project}.yaml"
    text = manifest_text(
        project=project,
        environment=environment,
        agent=agent,
        documents=docs,
        base_url=base_url,
        api_key_env=api_key_env,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    manifest_path.write_text(text, encoding="utf-8")
    _check_manifest(manifest_path, environment, docs, api_key_env)

    renamed = 0
    for item in docs:
        if item.new_name is not None and item.new_name != item.name:
            provider.rename_document(item.id, item.new_name)
            renamed += 1
    agent_updated = _rename_entries(provider, agent, docs)
    return ImportResult(
        manifest_path=manifest_path,
        project=project,
        environment=environment,
        agent_id=agent.id,
        agent_name=agent.name,
        documents=tuple(docs),
        renamed=renamed,
        agent_updated=agent_updated,
        notes=tuple(notes),
    )


def _import_one(
    provider: ImportProvider,
    entry: KbEntry,
    name: str,
    doc_type: DocType,
    *,
    project: str,
    environment: str,
    used_paths: set[str],
    used_keys: set[str],
    files: dict[str, bytes],
) -> ImportedDocument:
    """Read one attached document and decide its key, file and marker name."""
    base = ImportedDocument(entry.id, name, doc_type, entry.usage_mode, None)
    marker = parse_marker(name)
    if marker is not None and (
        marker.project != project or marker.environment not in (None, environment)
    ):
        owner = marker.project + (f"/{marker.environment}" if marker.environment else "")
        return replace(base, note=f"belongs to kbctl:{owner}; left unmanaged")
    if doc_type is DocType.FOLDER:
        return replace(base, note="folders cannot be declared in a manifest; left unmanaged")
    if doc_type is DocType.URL:
        url = provider.document_url(entry.id)
        if not url:
            return replace(base, note="the API did not give its URL; left unmanaged")
        if url in used_keys:
            return replace(base, note=f"a second document for {url}; left unmanaged")
        used_keys.add(url)
        digest = content_hash(DocType.URL, url.encode("utf-8"))
        return replace(
            base,
            key=url,
            url=url,
            content_hash=digest,
            new_name=document_name(url, project, environment, digest),
        )
    raw = provider.document_content(entry.id)
    try:
        content = canonical_text(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return replace(base, note="its content is not UTF-8 text; left unmanaged")
    if marker is not None and _is_own_path(marker.key) and marker.key not in used_paths:
        rel = marker.key  # adopted before (a second import): keep its key
    else:
        stem = slugify(marker.key if marker is not None else name)
        rel = f"{DOCS_DIR}/{stem}.md"
        serial = 2
        while rel in used_paths:
            rel = f"{DOCS_DIR}/{stem}-{serial}.md"
            serial += 1
    used_paths.add(rel)
    used_keys.add(rel)
    files[rel] = content
    digest = content_hash(DocType.TEXT, content)
    note = ""
    if doc_type is DocType.FILE:
        note = (
            "an uploaded file: the original could not be downloaded, so the manifest declares "
            f"its extracted text ({rel}); editing it replaces the file with a text document"
        )
    if entry.usage_mode is UsageMode.AUTO and len(content) < MIN_INDEX_BYTES:
        extra = (
            f"under {MIN_INDEX_BYTES} bytes with usage_mode auto: the plan will propose "
            "usage_mode prompt (policy small_documents)"
        )
        note = f"{note}; {extra}" if note else extra
    return replace(
        base,
        key=rel,
        path=rel,
        content_hash=digest,
        new_name=document_name(rel, project, environment, digest),
        note=note,
    )


def _is_own_path(key: str) -> bool:
    """A key import itself writes: `docs/<slug>.md`."""
    return re.fullmatch(rf"{DOCS_DIR}/[a-z0-9][a-z0-9-]*\.md", key) is not None


def _rename_entries(
    provider: ImportProvider, agent: LiveAgent, docs: list[ImportedDocument]
) -> bool:
    """Write the agent's array once with the adopted names; False when nothing differs."""
    names = {d.id: d.new_name for d in docs if d.new_name is not None}
    entries: list[KbEntry] = []
    seen: set[str] = set()
    changed = False
    for entry in agent.knowledge_base:
        if entry.id in seen:
            continue
        seen.add(entry.id)
        new = names.get(entry.id, entry.name)
        changed = changed or new != entry.name
        entries.append(KbEntry(entry.id, new, entry.doc_type, entry.usage_mode))
    if not changed:
        return False
    provider.update_agent(agent.id, entries, None, "kbctl import: adopt documents")
    return True


def _check_manifest(
    path: Path, environment: str, docs: list[ImportedDocument], api_key_env: str | None
) -> None:
    """Load the written manifest with kbctl's loader; its keys and hashes must be the adopted."""
    environ: Mapping[str, str] = {}
    (manifest,) = load_manifests([path], environ)
    target = manifest.resolve(environment, environ)
    declared = {s.key: s.content_hash for s in target.documents}
    adopted = {d.key: d.content_hash for d in docs if d.key is not None}
    if declared != adopted:
        raise UsageError(
            "The imported manifest does not describe the documents it adopts",
            detail=json.dumps({"declared": declared, "adopted": adopted}, indent=2),
            hint="Nothing was renamed. Please report this with the agent's document types.",
        )


__all__ = [
    "DEFAULT_API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "ImportProvider",
    "ImportResult",
    "ImportedDocument",
    "check_names",
    "check_output_dir",
    "import_agent",
    "slugify",
]
