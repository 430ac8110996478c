"""`OpenAIWorld`: the emulated OpenAI Files + Vector Stores account. Every operation behind the
endpoints (upload, stores, attach/detach, batches, search), thread-safe with one lock, on the
injected clock, optionally persisted (see `persist`).

Owns the semantics of each operation, including the choices the reference leaves open (the
`openai_*` settings of `EmulatorConfig`). Must not know about HTTP (see `handlers`, `app`).
"""

from __future__ import annotations

from kbctl.emulator.openai import bodies, wire
from kbctl.emulator.openai.errors import bad_request
from kbctl.emulator.openai.filters import matches
from kbctl.emulator.openai.inspection import Inspection
from kbctl.emulator.openai.paging import page
from kbctl.emulator.openai.persist import Persistence
from kbctl.emulator.openai.records import (
    SUPPORTED_EXTENSIONS,
    UNDOWNLOADABLE,
    Attachment,
    Batch,
    Json,
    StoredFile,
    VectorStore,
)
from kbctl.emulator.openai.text import Chunk, score_chunks
from kbctl.emulator.openai.validate import ListQuery


class OpenAIWorld(Persistence, Inspection):
    """The emulated account. Every public method is safe to call from several threads."""

    # ------------------------------------------------------------------ Files
    def upload(self, filename: str, purpose: str, data: bytes, expires_in: int | None) -> Json:
        """Store an uploaded File (`expires_in`: seconds after creation, or None)."""
        with self._lock:
            now = self._now()
            f = StoredFile(
                id=self._new_id("file-"),
                seq=self._next_seq(),
                filename=filename,
                purpose=purpose,
                created_at=now,
                expires_at=None if expires_in is None else now + expires_in,
                data=data,
            )
            self._files[f.id] = f
            self._mark("files", f.id)
            return wire.file_json(f)

    def get_file(self, file_id: str) -> Json:
        """A File object."""
        with self._lock:
            return wire.file_json(self._file(file_id))

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes uploaded."""
        with self._lock:
            return self._file(file_id).data

    def download(self, file_id: str) -> bytes:
        """`GET /files/{id}/content`: the bytes uploaded, unless the File's purpose is one the
        API keeps to itself (`assistants`, `user_data`: 400, unless
        `openai_download_any_purpose`)."""
        with self._lock:
            f = self._file(file_id)
            if f.purpose in UNDOWNLOADABLE and not self.config.openai_download_any_purpose:
                raise bad_request(f"Not allowed to download files of purpose: {f.purpose}")
            return f.data

    def list_files(self, q: ListQuery, purpose: str | None) -> Json:
        """A page of Files, optionally of one purpose."""
        with self._lock:
            items = [f for f in self._files.values() if purpose is None or f.purpose == purpose]
            return page(
                items,
                q,
                ident=lambda f: f.id,
                seq=lambda f: f.seq,
                view=wire.file_json,
                gone=self._gone_from("files"),
            )

    def delete_file(self, file_id: str) -> Json:
        """Delete a File and (unless `openai_file_delete_detaches` is off) detach it from every
        store."""
        with self._lock:
            f = self._file(file_id)
            del self._files[file_id]
            self._forget("files", file_id, f.seq)
            self._mark("files", file_id)
            for key in [k for k in self._chunks if k[0] == file_id]:
                del self._chunks[key]
            if self.config.openai_file_delete_detaches:
                for store_id, attached in self._attached.items():
                    if file_id in attached:
                        self._remove_attachment(attached[file_id])
                        del attached[file_id]
                        self._touch(self._stores[store_id])
            return wire.deleted_json(file_id, "file")

    # ------------------------------------------------------------------ vector stores
    def create_store(self, spec: bodies.StoreCreate, store_id: str | None = None) -> Json:
        """A new store, with `spec.files` attached at once (all must exist)."""
        with self._lock:
            files = self._unique(spec.files)
            now = self._now()
            vs = VectorStore(
                id=store_id or self._new_id("vs_"),
                seq=self._next_seq(),
                name=spec.name,
                created_at=now,
                last_active_at=now,
                metadata=spec.metadata,
                expires_after_days=spec.expires_after_days,
            )
            self._stores[vs.id] = vs
            self._attached[vs.id] = {}
            self._mark("stores", vs.id)
            for fs in files:
                self._attach(vs, fs)
            return self._store_json(vs)

    def ensure_store(self, store_id: str) -> Json:
        """Store `store_id`, created empty (name "") if it does not exist (`--vector-store`)."""
        with self._lock:
            if store_id in self._stores:
                return self._store_json(self._stores[store_id])
            return self.create_store(bodies.StoreCreate("", {}, None, ()), store_id)

    def get_store(self, store_id: str) -> Json:
        """A VectorStore object."""
        with self._lock:
            return self._store_json(self._store(store_id))

    def list_stores(self, q: ListQuery) -> Json:
        """A page of stores."""
        with self._lock:
            return page(
                list(self._stores.values()),
                q,
                ident=lambda vs: vs.id,
                seq=lambda vs: vs.seq,
                view=self._store_json,
                gone=self._gone_from("stores"),
            )

    def update_store(self, store_id: str, change: bodies.StoreUpdate) -> Json:
        """Change the fields sent (name, metadata, expiry)."""
        with self._lock:
            vs = self._store(store_id)
            if isinstance(change.name, str):
                vs.name = change.name
            if change.metadata is not bodies.UNSET:
                vs.metadata = change.metadata  # type: ignore[assignment]
            if change.expires_after_days is not bodies.UNSET:
                vs.expires_after_days = change.expires_after_days  # type: ignore[assignment]
                vs.last_active_at = self._now()
            self._mark("stores", vs.id)
            return self._store_json(vs)

    def delete_store(self, store_id: str) -> Json:
        """Delete a store, its attachments and batches; the Files stay."""
        with self._lock:
            vs = self._store(store_id)
            for att in self._attached.pop(store_id, {}).values():
                self._remove_attachment(att)
            for batch_id in [b.id for b in self._batches.values() if b.store_id == store_id]:
                del self._batches[batch_id]
                self._mark("batches", batch_id)
            del self._stores[store_id]
            self._forget("stores", store_id, vs.seq)
            self._mark("stores", store_id)
            return wire.deleted_json(store_id, "vector_store.deleted")

    # ------------------------------------------------------------------ attachments
    def _touch(self, vs: VectorStore) -> None:
        vs.last_active_at = self._now()
        self._mark("stores", vs.id)

    def _outcome(self, f: StoredFile) -> tuple[str, tuple[str, str] | None]:
        """How processing of `f` will end (decided when it is requested)."""
        if f.extension not in SUPPORTED_EXTENSIONS:
            return "failed", ("unsupported_file", "The file type is not supported.")
        if not f.text.strip():
            return "failed", ("invalid_file", "The file is empty.")
        if any(text in f.text for text in self.config.fail_index_containing):
            return "failed", ("server_error", "An internal error occurred while processing.")
        return "completed", None

    def _unique(
        self, specs: tuple[bodies.FileSpec, ...], vs: VectorStore | None = None
    ) -> list[bodies.FileSpec]:
        """`specs` without repeated File ids (the first wins), checked before anything changes:
        every File exists and, with `openai_reattach=error`, none is attached to `vs` yet."""
        first: dict[str, bodies.FileSpec] = {}
        for spec in specs:
            self._file(spec.file_id)
            if vs is not None and spec.file_id in self._attached[vs.id]:
                self._refuse_reattach(vs, spec.file_id)
            first.setdefault(spec.file_id, spec)
        return list(first.values())

    def _refuse_reattach(self, vs: VectorStore, file_id: str) -> None:
        if self.config.openai_reattach == "error":
            raise bad_request(
                f"File '{file_id}' is already attached to vector store '{vs.id}'.",
                "file_id",
                "file_already_attached",
            )

    def _attach(self, vs: VectorStore, spec: bodies.FileSpec) -> Attachment:
        """Attach (or, per `openai_reattach`, re-attach) one File; the caller holds the lock."""
        f = self._file(spec.file_id)
        attached = self._attached[vs.id]
        existing = attached.get(f.id)
        if existing is not None:
            self._refuse_reattach(vs, f.id)
            if self.config.openai_reattach == "existing":
                return existing
            self._remove_attachment(existing)
        outcome, error = self._outcome(f)
        att = Attachment(
            store_id=vs.id,
            file_id=f.id,
            seq=self._next_seq(),
            created_at=self._now(),
            requested_at=self.clock.now(),
            attributes=spec.attributes,
            chunking=spec.chunking,
            outcome=outcome,
            error=error,
            usage_bytes=len(f.data) if outcome == "completed" else 0,
        )
        attached[f.id] = att
        self._mark("attachments", att.key)
        self._touch(vs)
        return att

    def _remove_attachment(self, att: Attachment) -> None:
        self._forget(f"files:{att.store_id}", att.file_id, att.seq)
        self._mark("attachments", att.key)

    def attach(self, store_id: str, spec: bodies.FileSpec) -> Json:
        """`POST /vector_stores/{id}/files`: processing starts now."""
        with self._lock:
            return self._store_file_json(self._attach(self._store(store_id, usable=True), spec))

    def get_store_file(self, store_id: str, file_id: str) -> Json:
        """A VectorStoreFile object."""
        with self._lock:
            return self._store_file_json(self._attachment(store_id, file_id))

    def list_store_files(self, store_id: str, q: ListQuery, batch_id: str | None = None) -> Json:
        """A page of a store's files (or of one batch's), optionally of one status."""
        with self._lock:
            if batch_id is not None:
                items = self._batch_members(self._batch(store_id, batch_id))
            else:
                self._store(store_id)
                items = list(self._attached[store_id].values())
            if q.status is not None:
                items = [a for a in items if self._status(a) == q.status]
            return page(
                items,
                q,
                ident=lambda a: a.file_id,
                seq=lambda a: a.seq,
                view=self._store_file_json,
                gone=self._gone_from(f"files:{store_id}"),
            )

    def update_attributes(self, store_id: str, file_id: str, attrs: Json | None) -> Json:
        """Replace (or, per `openai_attributes_update`, merge into) a file's attributes."""
        with self._lock:
            att = self._attachment(store_id, file_id)
            if self.config.openai_attributes_update == "merge" and attrs is not None:
                merged = {**(att.attributes or {}), **attrs}
                if len(merged) > 16:
                    raise bad_request(
                        "Invalid 'attributes': too many properties after merging.",
                        "attributes",
                        "object_above_max_properties",
                    )
                attrs = merged
            att.attributes = attrs
            self._mark("attachments", att.key)
            return self._store_file_json(att)

    def detach(self, store_id: str, file_id: str) -> Json:
        """Remove a file from a store; the File itself stays."""
        with self._lock:
            att = self._attachment(store_id, file_id)
            del self._attached[store_id][file_id]
            self._remove_attachment(att)
            self._touch(self._stores[store_id])
            return wire.deleted_json(file_id, "vector_store.file.deleted")

    def store_file_content(self, store_id: str, file_id: str) -> Json:
        """The parsed text of a completed file, as one text item (empty before completion)."""
        with self._lock:
            att = self._attachment(store_id, file_id)
            f = self._files.get(file_id)
            done = self._status(att) == "completed" and f is not None
            return wire.content_json([f.text] if done and f is not None else [])

    # ------------------------------------------------------------------ batches
    def create_batch(self, store_id: str, specs: tuple[bodies.FileSpec, ...]) -> Json:
        """Attach several Files at once (all must exist; a repeated id counts once)."""
        with self._lock:
            vs = self._store(store_id, usable=True)
            unique = self._unique(specs, vs)
            b = Batch(
                id=self._new_id("vsfb_"),
                store_id=vs.id,
                seq=self._next_seq(),
                created_at=self._now(),
                file_ids=[spec.file_id for spec in unique],
            )
            for spec in unique:
                self._attach(vs, spec)
            self._batches[b.id] = b
            self._mark("batches", b.id)
            return self._batch_json(b)

    def get_batch(self, store_id: str, batch_id: str) -> Json:
        """A VectorStoreFileBatch object."""
        with self._lock:
            return self._batch_json(self._batch(store_id, batch_id))

    def cancel_batch(self, store_id: str, batch_id: str) -> Json:
        """Files of the batch still in progress end `cancelled` at once."""
        with self._lock:
            b = self._batch(store_id, batch_id)
            for att in self._batch_members(b):
                if self._status(att) == "in_progress":
                    att.cancelled = True
                    self._mark("attachments", att.key)
            b.cancelled = True
            self._mark("batches", b.id)
            return self._batch_json(b)

    # ------------------------------------------------------------------ search
    def search(self, store_id: str, request: bodies.Search) -> Json:
        """Chunks of the store's completed files that pass the filter, best first."""
        with self._lock:
            vs = self._store(store_id, usable=True)
            pool: list[tuple[Attachment, StoredFile, Chunk]] = []
            for att in sorted(self._attached[vs.id].values(), key=lambda a: a.seq):
                f = self._files.get(att.file_id)
                if f is None or self._status(att) != "completed":
                    continue
                if request.filters is not None and not matches(request.filters, att.attributes):
                    continue
                pool.extend((att, f, c) for c in self._chunks_of(att))
            scores = score_chunks(" ".join(request.queries), [c for _, _, c in pool])
            ranked = sorted(
                (
                    (score, rank, item)
                    for rank, (score, item) in enumerate(zip(scores, pool, strict=True))
                    if score > 0 and score >= request.score_threshold
                ),
                key=lambda t: (-t[0], t[1]),
            )[: request.max_num_results]
            self._touch(vs)
            hits = [wire.hit_json(att, f, score, c.text) for score, _, (att, f, c) in ranked]
            return wire.search_json(request.queries, hits)
