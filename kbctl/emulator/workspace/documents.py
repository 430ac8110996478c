"""Knowledge-base document operations: create (text, url, file, folder), read, list, content,
PATCH, update-file, refresh, move, delete (with `force`), bulk delete, summaries, dependent
agents and content search.

Owns the semantics of those endpoints on `WorldBase` state. Must not parse requests or format
HTTP answers beyond the JSON bodies of `wire`; callers hold no lock (each method takes it).
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from kbctl.emulator.workspace import shapes as wire
from kbctl.emulator.workspace.catalog import CatalogOps
from kbctl.emulator.workspace.errors import ApiProblem
from kbctl.emulator.workspace.records import Document, Json

_DETACH_NOTE = "Removed deleted knowledge base documents"


def url_placeholder(url: str, size: int | None = None) -> str:
    """The deterministic page text the emulator "scrapes" from `url`: over 1 KB, or `size`
    bytes (the text cut or repeated to that many UTF-8 bytes) when given."""
    parts = urlsplit(url)
    words = [w for w in (parts.netloc + " " + parts.path.replace("/", " ")).split() if w]
    topic = " ".join(words) or url
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    para = (
        f"This page was fetched from {url} by the kbctl emulator. It is about {topic}. "
        "The emulator does not download anything; it stands in for the scraped text so that "
        "indexing, search and size limits behave as they would for a real page. "
    )
    page = f"# {topic}\n\n" + "\n\n".join([para] * 4) + f"\n\nPage fingerprint {digest}.\n"
    if size is None:
        return page
    data = page.encode()
    data = (data * (size // max(1, len(data)) + 1))[:size]
    return data.decode("utf-8", errors="ignore")


def _default_name(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:60]
    return "Untitled document"


class DocumentOps(CatalogOps):
    """Document endpoints (mixed into `World`)."""

    # ------------------------------------------------------------------ create
    def _add(
        self, doc_type: str, name: str, data: bytes, parent_id: str | None, **extra: object
    ) -> Document:
        now = self._now()
        self._doc_seq += 1
        doc = Document(
            id=self._new_id(),
            seq=self._doc_seq,
            doc_type=doc_type,
            name=name,
            created_at=now,
            updated_at=now,
        )
        for key, value in extra.items():
            setattr(doc, key, value)
        doc.set_data(data)
        self._docs[doc.id] = doc
        self._set_parent(doc, self._folder(parent_id))
        self._docs_changed(doc.id)
        return doc

    def create_text(
        self, text: str, name: str | None = None, parent_folder_id: str | None = None
    ) -> Json:
        """`POST /v1/convai/knowledge-base/text`."""
        with self._lock:
            doc = self._add("text", name or _default_name(text), text.encode(), parent_folder_id)
            return wire.added(doc, self._path_ids(doc))

    def create_url(
        self,
        url: str,
        name: str | None = None,
        parent_folder_id: str | None = None,
        *,
        enable_auto_sync: bool = False,
        auto_remove: bool = False,
        minimum_frequency_days: int | None = None,
    ) -> Json:
        """`POST /v1/convai/knowledge-base/url` (content: a deterministic placeholder)."""
        with self._lock:
            doc = self._add(
                "url",
                name or url,
                url_placeholder(url, self.config.url_content_bytes).encode(),
                parent_folder_id,
                url=url,
                enable_auto_sync=enable_auto_sync,
                auto_remove=auto_remove,
                minimum_frequency_days=minimum_frequency_days,
            )
            return wire.added(doc, self._path_ids(doc))

    def create_file(
        self,
        data: bytes,
        filename: str,
        name: str | None = None,
        parent_folder_id: str | None = None,
    ) -> Json:
        """`POST /v1/convai/knowledge-base/file` (text extracted by decoding UTF-8)."""
        with self._lock:
            doc = self._add("file", name or filename, data, parent_folder_id, filename=filename)
            return wire.added(doc, self._path_ids(doc))

    def create_folder(
        self, name: str, parent_folder_id: str | None = None, *, enable_auto_sync: bool = False
    ) -> Json:
        """`POST /v1/convai/knowledge-base/folder`."""
        with self._lock:
            doc = self._add(
                "folder", name, b"", parent_folder_id, enable_auto_sync=enable_auto_sync
            )
            return wire.added(doc, self._path_ids(doc))

    # ------------------------------------------------------------------ change
    def _change_data(self, doc: Document, data: bytes) -> None:
        doc.set_data(data)
        doc.updated_at = self._now()
        if self.config.edit_drops_indexes:
            self._drop_indexes(doc.id)  # content changed: indexes are stale, request them again
        self._docs_changed(doc.id)

    def update_document(
        self,
        doc_id: str,
        *,
        name: str | None = None,
        content: str | None = None,
        enable_auto_sync: bool | None = None,
        auto_remove: bool | None = None,
        minimum_frequency_days: int | None = None,
    ) -> Json:
        """`PATCH …/{id}`. In legacy mode (`content_patch_allowed=False`) `content` is ignored,
        as the old name-only endpoint ignored unknown fields."""
        with self._lock:
            doc = self._doc(doc_id)
            if content is not None and self.config.content_patch_allowed:
                if doc.doc_type == "folder":
                    raise ApiProblem(400, "content_update_not_allowed", "Folders have no content.")
                if doc.doc_type == "url" and doc.enable_auto_sync:
                    raise ApiProblem(
                        400,
                        "content_update_not_allowed",
                        "Content of a URL document with auto-sync enabled cannot be edited; "
                        "disable auto-sync first.",
                    )
                if content.encode() != doc.data:
                    self._change_data(doc, content.encode())
            if name is not None and name != doc.name:
                doc.name = name
                doc.updated_at = self._now()
            if doc.doc_type in ("url", "folder"):
                if enable_auto_sync is not None:
                    doc.enable_auto_sync = enable_auto_sync
                if auto_remove is not None:
                    doc.auto_remove = auto_remove
                if minimum_frequency_days is not None:
                    doc.minimum_frequency_days = minimum_frequency_days
            self._docs_changed(doc.id)
            return self._detail(doc)

    def update_file(self, doc_id: str, data: bytes, filename: str) -> Json:
        """`PATCH …/{id}/update-file`: new source file; name, content and metadata follow it."""
        with self._lock:
            doc = self._doc(doc_id)
            if doc.doc_type != "file":
                raise ApiProblem(400, "not_a_file_document", f"{doc_id!r} is not a file document.")
            doc.filename = filename
            doc.name = filename
            self._change_data(doc, data)
            return self._detail(doc)

    def refresh(self, doc_id: str) -> Json:
        """`POST …/{id}/refresh`: re-fetch a URL document (overwrites manual edits)."""
        with self._lock:
            doc = self._doc(doc_id)
            if doc.doc_type != "url" or doc.url is None:
                raise ApiProblem(400, "not_a_url_document", f"{doc_id!r} is not a URL document.")
            fresh = url_placeholder(doc.url, self.config.url_content_bytes).encode()
            if fresh != doc.data:
                self._change_data(doc, fresh)
            else:
                doc.updated_at = self._now()
                self._docs_changed(doc.id)
            return self._detail(doc)

    def move(self, doc_id: str, move_to: str | None) -> None:
        """`POST …/{id}/move` (None: to the root)."""
        with self._lock:
            doc = self._doc(doc_id)
            target = self._folder(move_to)
            if target is not None and (target == doc.id or target in self._descendants(doc.id)):
                raise ApiProblem(400, "invalid_move", "A folder cannot be moved into itself.")
            self._set_parent(doc, target)
            self._docs_changed(doc.id)

    def bulk_move(self, doc_ids: list[str], move_to: str | None) -> None:
        """`POST /v1/convai/knowledge-base/bulk-move` (all or nothing)."""
        with self._lock:
            for doc_id in doc_ids:
                self._doc(doc_id)
            for doc_id in doc_ids:
                self.move(doc_id, move_to)

    def delete_document(self, doc_id: str, force: bool = False) -> None:
        """`DELETE …/{id}`. Refused while any agent depends on it (or a folder is not empty)
        unless `force`, which also removes it from every agent's knowledge base."""
        with self._lock:
            doc = self._doc(doc_id)
            inner = self._descendants(doc.id) if doc.doc_type == "folder" else []
            targets = [doc.id, *inner]
            status = self.config.delete_in_use_status
            if not force:
                if inner:
                    raise ApiProblem(
                        status,
                        "folder_not_empty",
                        f"Folder {doc_id!r} is not empty; "
                        "use force=true to delete it with its contents.",
                    )
                users = self._dependents_of([doc.id], "all")
                if users:
                    names = ", ".join(users)
                    raise ApiProblem(
                        status,
                        "document_in_use",
                        f"Document {doc_id!r} is used by agent(s) {names}; "
                        "use force=true to delete it and remove it from them.",
                    )
                if self._lagging_use(doc):
                    raise ApiProblem(
                        status,
                        "document_has_dependent_agents",
                        f"Document {doc_id!r} still has dependent agents; "
                        "try again in a few seconds.",
                    )
            else:
                self._detach(set(targets), _DETACH_NOTE)
            for target in reversed(targets):
                gone = self._docs.pop(target)
                self._set_parent(gone, None)
                self._children.pop(target, None)
                self._drop_indexes(target)
                self._refs.forget(target)
                self._docs_changed(target)

    def bulk_delete(self, doc_ids: list[str], force: bool = False) -> Json:
        """`POST /v1/convai/knowledge-base/bulk-delete`: each id succeeds or fails on its own."""
        with self._lock:
            out: Json = {}
            for doc_id in doc_ids:
                try:
                    self.delete_document(doc_id, force)
                    out[doc_id] = wire.success({"id": doc_id})
                except ApiProblem as problem:
                    out[doc_id] = wire.failure(problem.http_status, problem.code, problem.message)
            return out
