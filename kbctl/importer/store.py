"""`kbctl import` of an OpenAI vector store: adopt files attached by hand into a manifest.

Owns turning a live store into a manifest, document files and `<file>.metadata.yaml`
sidecars, then adopting the files so the next `kbctl plan` is a no-op and nothing is uploaded:

1. read the store's files (one listing), the Files' names (one listing), and each completed
   file's content: the bytes (`GET /files/{id}/content`) or, where the API refuses them (the
   live API answers 400 for purpose `assistants`), the text the store parsed from it
   (`GET /vector_stores/{id}/files/{id}/content`) — for text files only: a PDF's parsed text is
   not the PDF;
2. write `DIR/<project>.yaml`, `DIR/<docs>/<name>` and, for files with attributes of their own,
   the sidecar beside each; a static chunking other than the default goes on the entry;
3. load that manifest back with kbctl's own loader and check every document's metadata and
   chunking are the live ones (nothing is adopted otherwise);
4. adopt: write each file's attributes in place, the user's as they were plus kbctl's reserved
   `kbctl_*` marker for the hash the loader computed (one request per file; no upload).

Files it cannot adopt stay attached and unmanaged, each with the reason: not `completed`,
content the API does not give back, another kbctl project's marker, too many attributes of its
own to add kbctl's four, a File deleted under it. Never prints; the CLI renders the result.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, replace
from pathlib import Path

from kbctl.chunking import AUTO_CHUNK_OVERLAP_TOKENS, AUTO_CHUNK_SIZE_TOKENS, MAX_METADATA_KEYS
from kbctl.errors import ApiError, NotFoundError, UsageError
from kbctl.identity import canonical_text_bytes, document_name, identity_hash, parse_marker
from kbctl.importer.adopt import ImportedDocument, ImportResult, check_names, slugify
from kbctl.importer.store_text import StoreEntry, sidecar_text, store_manifest_text
from kbctl.manifest import load_manifests
from kbctl.manifest.sources import FILE_SUFFIXES, SIDECAR_SUFFIX, TEXT_SUFFIXES
from kbctl.model import DocType, DocumentSpec, ProviderKind, UsageMode
from kbctl.provider.openai import OpenAIProvider, shapes
from kbctl.provider.openai.shapes import FileInfo, StoreFile

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class _Read:
    """One store file read: the path it gets and the bytes written there (or why not)."""

    sf: StoreFile
    filename: str
    path: str | None = None
    data: bytes = b""
    parsed: bool = False  # `data` is the store's parsed text (the bytes were refused)
    note: str = ""  # why it stays unmanaged ("" when it is adopted)


def import_store(
    provider: OpenAIProvider,
    *,
    environment: str,
    out_dir: Path,
    project: str | None = None,
    docs_dir: str = "docs",
    base_url: str | None = None,
    api_key_env: str | None = None,
    by_name: bool = False,
) -> ImportResult:
    """Write a manifest for the provider's vector store and adopt its files in place.

    Args:
        provider: the store (by id, or by name with `by_name`: the manifest then names it).
        environment: the manifest environment the store becomes.
        out_dir: where the manifest, `docs_dir` and the sidecars go (checked by the caller).
        project: the manifest's project (default: a slug of the store's name).
        docs_dir: the folder under `out_dir` for the documents.
        base_url, api_key_env: written into the environment when not the defaults.

    Raises:
        UsageError: bad names, an unknown store, or a manifest that would not adopt the files
            as they are (nothing is written to the store then).
    """
    check_names(environment, project)
    docs = _docs_dir(docs_dir)
    store_id = provider.store_id()
    if store_id is None:
        raise UsageError(
            f"No vector store is named {provider.ref!r}",
            hint="Check the name (kbctl lists the stores OPENAI_API_KEY can see), or pass "
            "--vector-store-id.",
        )
    store = provider.api.store(store_id)
    project = project or slugify(store.name, fallback="imported")
    infos = {f.id: f for f in provider.api.files()}
    reads: list[_Read] = []
    used: set[str] = set()
    for sf in provider.api.store_files(store_id):
        read = _read(provider, store_id, sf, infos, project, environment)
        if read.note == "":
            read = replace(read, path=_path_for(read, docs, project, environment, used))
        reads.append(read)

    entries = [StoreEntry(r.sf.id, r.filename, r.path, _static(r.sf), r.note) for r in reads]
    out_dir.mkdir(parents=True, exist_ok=True)
    for r in reads:
        if r.path is None:
            continue
        path = out_dir / r.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(r.data)
        metadata = shapes.user_metadata(r.sf.attributes)
        sidecar = out_dir / (r.path + SIDECAR_SUFFIX)
        if metadata:
            sidecar.write_text(sidecar_text(metadata, r.filename, r.sf.id), encoding="utf-8")
        elif sidecar.exists():
            sidecar.unlink()  # --force over an earlier import: no stale metadata
    manifest_path = out_dir / f"{project}.yaml"
    manifest_path.write_text(
        store_manifest_text(
            project=project,
            environment=environment,
            store_id=store_id,
            store_name=store.name,
            by_name=by_name,
            entries=entries,
            base_url=base_url,
            api_key_env=api_key_env,
        ),
        encoding="utf-8",
    )
    specs = _declared(manifest_path, environment, reads)

    documents: list[ImportedDocument] = []
    adopted = 0
    for r in reads:
        base = ImportedDocument(
            r.sf.id, r.filename, DocType.FILE, UsageMode.AUTO, None, note=r.note
        )
        if r.path is None:
            documents.append(base)
            continue
        spec = specs[r.path]
        name = document_name(
            spec.key, project, environment, identity_hash(spec.content_hash, spec.chunking)
        )
        marker = parse_marker(name)
        assert marker is not None
        attributes = {**shapes.marker_attributes(marker, spec.doc_type), **dict(spec.metadata)}
        if dict(r.sf.attributes) != attributes:
            provider.api.update_attributes(store_id, r.sf.id, attributes)
            adopted += 1
        note = (
            "written from the store's parsed text (the API keeps the original)" if r.parsed else ""
        )
        documents.append(
            replace(
                base,
                doc_type=spec.doc_type,
                key=spec.key,
                path=r.path,
                content_hash=spec.content_hash,
                new_name=name,
                note=note,
            )
        )
    return ImportResult(
        manifest_path=manifest_path,
        project=project,
        environment=environment,
        agent_id=store_id,
        agent_name=store.name,
        documents=tuple(documents),
        renamed=adopted,
        agent_updated=False,
        notes=tuple(f"{d.name!r} ({d.id}): {d.note}" for d in documents if d.note),
        provider=ProviderKind.OPENAI,
        sidecars=sum(1 for r in reads if r.path and shapes.user_metadata(r.sf.attributes)),
    )


def _docs_dir(value: str) -> str:
    """`--docs-dir` as a clean relative posix path inside the output directory."""
    norm = posixpath.normpath(value.replace("\\", "/")).strip("/")
    if value.startswith("/") or norm.startswith("..") or norm in ("", "."):
        raise UsageError(
            f"--docs-dir {value!r} must be a folder inside the output directory",
            hint="For example docs or kb/handbook.",
        )
    return norm


def _read(
    provider: OpenAIProvider,
    store_id: str,
    sf: StoreFile,
    infos: dict[str, FileInfo],
    project: str,
    environment: str,
) -> _Read:
    """Read one store file, or say why it stays unmanaged."""
    info = infos.get(sf.id)
    if info is None:
        try:
            info = provider.api.file(sf.id)
        except NotFoundError:
            return _Read(sf, sf.id, note="its File was deleted; left unmanaged")
    filename = info.filename or sf.id
    read = _Read(sf, filename)
    marker = shapes.read_marker(sf.attributes)
    if marker is not None and (marker.project, marker.environment) != (project, environment):
        owner = f"kbctl:{marker.project}/{marker.environment}"
        return replace(read, note=f"belongs to {owner}; left unmanaged")
    if sf.status != "completed":
        status = sf.status or "unknown"
        if marker is not None and sf.status in ("failed", "cancelled"):
            # kbctl's own attachment that never became searchable: an orphan to the planner.
            return replace(
                read, note=f"kbctl's own file, its processing {status}: the next apply deletes it"
            )
        return replace(read, note=f"its processing is {status}; left unmanaged")
    if len(shapes.user_metadata(sf.attributes)) > MAX_METADATA_KEYS:
        return replace(
            read,
            note=f"it has more than {MAX_METADATA_KEYS} attributes of its own, leaving no room "
            "for kbctl's 4 (16 at most); left unmanaged",
        )
    if any("${" in key for key, _ in shapes.user_metadata(sf.attributes)):
        return replace(
            read, note="an attribute's name holds '${', which no manifest may; left unmanaged"
        )
    suffix = posixpath.splitext(filename)[1].lower()
    if suffix in FILE_SUFFIXES:
        if provider.api.downloads_refused:
            return replace(read, note=_UNREADABLE)
        try:
            return replace(read, data=provider.api.content(sf.id))
        except ApiError as err:
            if err.status != 400:
                raise
            provider.api.downloads_refused = True
            return replace(read, note=_UNREADABLE)
    raw = provider.api.readable(store_id, sf.id)
    try:
        text = canonical_text_bytes(raw)
    except UnicodeDecodeError:
        return replace(read, note="its content is not UTF-8 text; left unmanaged")
    if not text.strip() or b"\0" in text:
        return replace(read, note="its content is empty or binary; left unmanaged")
    return replace(read, data=text, parsed=provider.api.downloads_refused)


_UNREADABLE = (
    "the API does not give back the original file (purpose assistants) and its parsed text "
    "is not the file; left unmanaged"
)


def _path_for(read: _Read, docs: str, project: str, environment: str, used: set[str]) -> str:
    """The document's path: its key when kbctl adopted it before, else `docs/<filename>`
    (characters outside `A-Za-z0-9._-` made `-`; other extensions get `.txt` added)."""
    marker = shapes.read_marker(read.sf.attributes)
    if (
        marker is not None
        and (marker.project, marker.environment) == (project, environment)
        and _is_document_path(marker.key)
        and marker.key not in used
    ):
        used.add(marker.key)
        return marker.key
    base = posixpath.basename(read.filename.replace("\\", "/")) or read.sf.id
    stem, suffix = posixpath.splitext(_SAFE.sub("-", base).strip("-.") or "document")
    if suffix.lower() not in TEXT_SUFFIXES + FILE_SUFFIXES:
        stem, suffix = stem + suffix, ".txt"
    rel = f"{docs}/{stem}{suffix.lower()}"
    serial = 2
    while rel in used:
        rel = f"{docs}/{stem}-{serial}{suffix.lower()}"
        serial += 1
    used.add(rel)
    return rel


def _is_document_path(key: str) -> bool:
    """A relative path inside the output directory that a manifest can declare."""
    norm = posixpath.normpath(key)
    return (
        norm == key
        and not key.startswith(("/", "../"))
        and posixpath.splitext(key)[1] in TEXT_SUFFIXES + FILE_SUFFIXES
        and not key.endswith(SIDECAR_SUFFIX)
    )


def _static(sf: StoreFile) -> tuple[int, int] | None:
    """The static chunking to declare (None: auto, what the API reads back as 800/400)."""
    if sf.chunking == (AUTO_CHUNK_SIZE_TOKENS, AUTO_CHUNK_OVERLAP_TOKENS):
        return None
    return sf.chunking


def _declared(path: Path, environment: str, reads: list[_Read]) -> dict[str, DocumentSpec]:
    """Load the written manifest; each document's metadata and chunking must be the live ones."""
    (manifest,) = load_manifests([path], {})
    target = manifest.resolve(environment, {})
    specs = {s.key: s for s in target.documents}
    problems: list[str] = []
    for r in reads:
        if r.path is None:
            continue
        spec = specs.get(r.path)
        if spec is None:
            problems.append(f"{r.path}: not declared")
            continue
        live = shapes.user_metadata(r.sf.attributes)
        if spec.metadata != live:
            problems.append(f"{r.path}: metadata {spec.metadata!r} is not the live {live!r}")
        size = spec.chunking.effective() if spec.chunking is not None else None
        if r.sf.chunking is not None and size != r.sf.chunking:
            problems.append(f"{r.path}: chunking {size} is not the live {r.sf.chunking}")
    if problems or len(specs) != sum(1 for r in reads if r.path is not None):
        raise UsageError(
            "The imported manifest does not describe the files it adopts",
            detail="\n".join(problems) or f"declared: {sorted(specs)}",
            hint="Nothing was written to the store. Please report this with the files' names "
            "and attributes.",
        )
    return specs
