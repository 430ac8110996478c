"""`OpenAIProvider`: the `Provider` protocol over one OpenAI vector store.

The store plays the agent: its knowledge base is the set of attached files, each a File
(uploaded once, purpose `assistants`) attached with attributes and a chunking strategy.
kbctl's ownership marker lives in the reserved `kbctl_*` attributes (`shapes`), beside the
user's metadata, and in the File's name (`<key> · kbctl:<project>/<env> · <hash12>.<ext>`), so
a File uploaded by a run that died before attaching it is still found (and deleted) later.

What the executor's steps mean here: create = upload, then attach (with attributes and
chunking) — as `StagedCreates`, every new File of a run is uploaded first and all are attached
in file batches (`batches`); request/poll the index = the attachment's status (`in_progress` →
`completed`, read from the batch where one holds the file); the swap
(`update_agent`) = detach every managed file the new array does not hold (new files are already
attached and `completed` by then); delete = detach, then delete the File only when kbctl
uploaded it and no other store this key can see uses it. Files attached by this provider are
left out of the agent it reports until the swap, so the executor's "did someone change the
agent?" check compares like with like. The apply lease (`leases`) is an empty vector store
named like the ElevenLabs lease folder; content, usage and search are in `contents`. Must not
decide anything the planner or executor decides.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence

from kbctl.chunking import Metadata, MetadataValue
from kbctl.errors import ApiError, NotFoundError, UsageError
from kbctl.identity import owned, parse_marker
from kbctl.model import (
    DocType,
    DocumentSpec,
    IndexStatus,
    KbEntry,
    LiveAgent,
    LiveDocument,
    LiveState,
    Marker,
    RagSettings,
    UsageMode,
)
from kbctl.provider.base import (
    DeleteOutcome,
    Dependents,
    IndexState,
    Provider,
    StagedCreates,
)
from kbctl.provider.http import ApiClient
from kbctl.provider.openai import shapes
from kbctl.provider.openai.api import OpenAIApi
from kbctl.provider.openai.batches import FileBatches
from kbctl.provider.openai.contents import StoreReads
from kbctl.provider.openai.leases import LEASE_PREFIX, LeaseStores, is_store_id
from kbctl.provider.openai.shapes import (
    FileInfo,
    StoreFile,
    extension,
    file_marker,
    name_of,
    state_of,
    stem,
)

#: Statuses in which an attachment ended without becoming searchable.
_DEAD = frozenset({"failed", "cancelled"})
#: What a store reports as its "RAG settings": file search's embedding model (fixed by OpenAI).
STORE_RAG = RagSettings(embedding_model="text-embedding-3-large")


class OpenAIProvider(StoreReads, LeaseStores):
    """One vector store (by id, or by name: created on the first write) as a `Provider`."""

    def __init__(self, client: ApiClient, store: str) -> None:
        if not store:
            raise UsageError("An OpenAI target needs vector_store_id or vector_store.name")
        self._client = client
        self.api = OpenAIApi(client)
        self._ref = store
        self._store_id: str | None = store if is_store_id(store) else None
        self._lock = threading.Lock()
        self._staged: set[str] = set()  # attached by this provider, not yet swapped in
        self._files: dict[str, FileInfo] = {}  # Files seen, by id
        self._batches = FileBatches(self.api)  # files attached in batches by this process

    # ---------------------------------------------------------------------------- the store

    @property
    def ref(self) -> str:
        """The store as the manifest names it: its id, or its name."""
        return self._ref

    def store_id(self, *, create: bool = False) -> str | None:
        """The store's id: by name from the listing (created when `create` and absent)."""
        with self._lock:
            if self._store_id is None:
                named = [s for s in self.api.stores() if s.name == self._ref]
                if len(named) > 1:
                    raise UsageError(
                        f"{len(named)} vector stores are named {self._ref!r}",
                        detail="Stores: " + ", ".join(s.id for s in named),
                        hint="Set vector_store_id in the manifest to the one kbctl should manage.",
                    )
                if named:
                    self._store_id = named[0].id
                elif create:
                    self._store_id = self.api.create_store(self._ref).id
            return self._store_id

    def _bound(self) -> str:
        store_id = self.store_id(create=True)
        assert store_id is not None
        return store_id

    # ------------------------------------------------------------------------------ reading

    def read_state(
        self,
        agent_id: str,
        project: str,
        environment: str,
        *,
        with_quota: bool = True,
        on_agent: Callable[[LiveAgent], None] | None = None,
    ) -> LiveState:
        """The store's attached files, and the Files kbctl uploaded for this project+environment
        that are attached nowhere here (left by a run that died). `on_agent` is not called: the
        store's files are the agent and the listing at once."""
        store_id = self.store_id()
        attached = self._attached(store_id)
        files = {f.id: f for f in self.api.files()}
        with self._lock:
            self._files.update(files)
        docs: dict[str, LiveDocument] = {}
        for sf in attached:
            marker = owned(shapes.read_marker(sf.attributes), project, environment)
            info = files.get(sf.id)
            docs[sf.id] = LiveDocument(
                sf.id,
                name_of(sf, marker, info),
                shapes.doc_type_of(sf.attributes),
                info.size_bytes if info is not None else 0,
                marker,
                sf.created_at,
                metadata=shapes.user_metadata(sf.attributes),
            )
        for info in files.values():
            marker = owned(file_marker(info.filename), project, environment)
            if marker is not None and info.id not in docs:
                # Never reused: its attributes and chunking were never written. Deleted.
                orphan = Marker(marker.key, project, environment, "-")
                docs[info.id] = LiveDocument(
                    info.id, info.filename, DocType.FILE, info.size_bytes, orphan, info.created_at
                )
        agent = self._agent(agent_id, attached, files)
        quota = self.quota() if with_quota and store_id is not None else None
        documents = tuple(sorted(docs.values(), key=lambda d: d.id))
        return LiveState(agent=agent, documents=documents, quota=quota)

    def _agent(
        self, agent_id: str, attached: Sequence[StoreFile], files: dict[str, FileInfo]
    ) -> LiveAgent:
        entries: list[KbEntry] = []
        with self._lock:
            staged = set(self._staged)
        for sf in attached:
            marker = shapes.read_marker(sf.attributes)
            if sf.id in staged or (marker is not None and sf.status in _DEAD):
                continue  # not swapped in yet, or a failed upload of kbctl's (an orphan)
            info = files.get(sf.id)
            if marker is None and info is None:
                info = self._file_info(sf.id)
            name = name_of(sf, marker, info)
            entries.append(KbEntry(sf.id, name, shapes.doc_type_of(sf.attributes), UsageMode.AUTO))
        return LiveAgent(agent_id, self._ref, None, None, tuple(entries), STORE_RAG)

    def _file_info(self, file_id: str) -> FileInfo | None:
        """A File's name and size, read once (they never change): for files attached by hand,
        which the agent's entries name as `read_state` does."""
        with self._lock:
            known = self._files.get(file_id)
        if known is None:
            try:
                known = self.api.file(file_id)
            except NotFoundError:
                return None
            with self._lock:
                self._files[file_id] = known
        return known

    def get_agent(self, agent_id: str) -> LiveAgent:
        """The store as an agent (one listing of its files, plus one read per file attached by
        hand the first time it is seen)."""
        return self._agent(agent_id, self._attached(self.store_id()), {})

    def _attached(self, store_id: str | None) -> list[StoreFile]:
        if store_id is None:
            return []
        try:
            return self.api.store_files(store_id)
        except NotFoundError as err:
            raise NotFoundError(
                f"Vector store {store_id} not found",
                method=err.method,
                path=err.path,
                status=err.status,
                detail=err.detail,
                hint="Check vector_store_id and that OPENAI_API_KEY belongs to its project, or "
                "use vector_store: {name: …} to have kbctl create the store.",
            ) from None

    def version_description(self, agent_id: str, version_id: str) -> str | None:
        """Vector stores have no versions."""
        return None

    def find_documents_by_name(self, name: str) -> tuple[LiveDocument, ...]:
        """Files kbctl uploaded under `name` (any extension)."""
        return tuple(
            LiveDocument(f.id, f.filename, DocType.FILE, f.size_bytes, parse_marker(name))
            for f in self.api.files()
            if stem(f.filename) == name
        )

    # --------------------------------------------------------------------------- documents

    def create_document(self, spec: DocumentSpec, name: str) -> str:
        """Upload the File (named after kbctl's marker) and attach it with the marker, the
        user's metadata and the chunking; processing starts at once."""
        attributes = _attributes(spec, name)
        store_id = self._bound()
        file_id = self.api.upload(name + extension(spec), spec.content)
        try:
            self.api.attach(store_id, file_id, attributes, spec.chunking)
        except ApiError:
            # Else an unattached File named after the marker stays: the next plan deletes it.
            with contextlib.suppress(ApiError):
                self.api.delete_file(file_id)
            raise
        with self._lock:
            self._staged.add(file_id)
        return file_id

    def upload_document(self, spec: DocumentSpec, name: str) -> str:
        """Upload the File only (named after kbctl's marker: found and deleted later if no
        attach follows); `attach_documents` attaches it."""
        _attributes(spec, name)
        self._bound()
        return self.api.upload(name + extension(spec), spec.content)

    def attach_documents(
        self, uploads: Sequence[tuple[str, DocumentSpec, str]]
    ) -> dict[str, IndexState]:
        """Attach uploaded Files `(id, spec, name)` in file batches (⌈N/2000⌉ requests), each
        with its marker, metadata and chunking; each one's state."""
        store_id = self._bound()
        files = [(doc_id, _attributes(spec, name), spec.chunking) for doc_id, spec, name in uploads]
        states = self._batches.attach(store_id, files)
        with self._lock:
            self._staged.update(doc_id for doc_id, _, _ in uploads)
        return states

    def update_document(self, doc_id: str, name: str, metadata: Metadata) -> None:
        """Rewrite an attached file's attributes in place (no re-embedding)."""
        marker = parse_marker(name)
        if marker is None:
            raise UsageError(f"{name!r} carries no kbctl marker")
        store_id = self._bound()
        current = self.api.store_file(store_id, doc_id)
        doc_type = shapes.doc_type_of(current.attributes)
        attributes = {**shapes.marker_attributes(marker, doc_type), **dict(metadata)}
        self.api.update_attributes(store_id, doc_id, attributes)

    def rename_document(self, doc_id: str, name: str) -> None:
        """A lease store gets a new name; a file gets the marker of `name`, its metadata kept."""
        if is_store_id(doc_id):
            self.api.rename_store(doc_id, name)
            return
        current = self.api.store_file(self._bound(), doc_id)
        self.update_document(doc_id, name, shapes.user_metadata(current.attributes))

    def request_index(self, doc_id: str, model: str) -> IndexState:
        """The attachment's state; a File not attached (any more) is attached again."""
        store_id = self._bound()
        try:
            return state_of(self.api.store_file(store_id, doc_id))
        except NotFoundError:
            pass
        info = self.api.file(doc_id)
        marker = file_marker(info.filename)
        attributes = shapes.marker_attributes(marker, DocType.FILE) if marker is not None else {}
        answer = self.api.attach(store_id, doc_id, attributes, None)
        with self._lock:
            self._staged.add(doc_id)
        return state_of(answer)

    def index_state(self, doc_id: str, model: str) -> IndexState:
        """The attachment's status (NOT_INDEXED when the file is not attached)."""
        store_id = self.store_id()
        if store_id is None:
            return IndexState(IndexStatus.NOT_INDEXED)
        try:
            return state_of(self.api.store_file(store_id, doc_id))
        except NotFoundError:
            return IndexState(IndexStatus.NOT_INDEXED)

    def delete_index(self, doc_id: str, index_id: str) -> None:
        """The attachment is the index: detach the file (it is attached again on request)."""
        store_id = self.store_id()
        self._batches.forget([doc_id])
        if store_id is not None:
            self.api.detach(store_id, doc_id)

    def index_states(self, doc_ids: Iterable[str], model: str) -> dict[str, IndexState]:
        """Many attachments' states: those attached in a batch by this process from the batch
        (see `FileBatches.states`), the others from one listing of the store's files."""
        store_id = self.store_id()
        if store_id is None:
            return dict.fromkeys(doc_ids, IndexState(IndexStatus.NOT_INDEXED))
        known, rest = self._batches.states(store_id, doc_ids)
        if rest:
            listed = {sf.id: sf for sf in self.api.store_files(store_id)}
            none = IndexState(IndexStatus.NOT_INDEXED)
            known.update((i, state_of(listed[i]) if i in listed else none) for i in rest)
        return known

    def request_indexes(self, doc_ids: Iterable[str], model: str) -> dict[str, IndexState]:
        """`request_index` for each file (one request each: attaching has no batch here)."""
        return {doc_id: self.request_index(doc_id, model) for doc_id in doc_ids}

    def update_agent(
        self,
        agent_id: str,
        knowledge_base: Sequence[KbEntry],
        rag: RagSettings | None,
        description: str,
    ) -> LiveAgent:
        """The swap: detach every kbctl file the array does not hold (files attached by hand
        stay, whatever the array says); the new files were attached and completed before."""
        store_id = self._bound()
        wanted = {e.id for e in knowledge_base}
        for sf in self.api.store_files(store_id):
            if sf.id not in wanted and shapes.read_marker(sf.attributes) is not None:
                self.api.detach(store_id, sf.id)
        with self._lock:
            self._staged -= wanted
        return self.get_agent(agent_id)

    def dependents(self, doc_id: str) -> Dependents:
        """Other stores this key can see that hold the File."""
        mine = self.store_id()
        users: list[str] = []
        for store in self.api.stores():
            if store.id == mine or store.name.startswith(LEASE_PREFIX):
                continue
            try:
                self.api.store_file(store.id, doc_id)
            except NotFoundError:
                continue
            users.append(store.id)
        return Dependents(tuple(users))

    def delete_document(self, doc_id: str) -> DeleteOutcome:
        """A lease store is deleted; a file is detached from this store, then its File deleted
        when kbctl uploaded it (its name carries kbctl's marker), else kept."""
        if is_store_id(doc_id):
            return self.api.delete_store(doc_id)
        store_id = self.store_id()
        self._batches.forget([doc_id])
        if store_id is not None:
            self.api.detach(store_id, doc_id)
        with self._lock:
            self._staged.discard(doc_id)
        try:
            info = self.api.file(doc_id)
        except NotFoundError:
            return DeleteOutcome.GONE
        if file_marker(info.filename) is None:
            return DeleteOutcome.NOT_OURS
        return self.api.delete_file(doc_id)


def _conforms(provider: OpenAIProvider) -> Provider:
    """Never called: makes mypy check that `OpenAIProvider` implements `Provider`."""
    return provider


def _attributes(spec: DocumentSpec, name: str) -> dict[str, MetadataValue]:
    """A file's attributes: kbctl's marker (from `name`) and the user's metadata."""
    if spec.doc_type is DocType.URL:
        raise UsageError(f"{spec.key}: URL documents cannot go into a vector store")
    marker = parse_marker(name)
    if marker is None:
        raise UsageError(f"{name!r} carries no kbctl marker")
    return {**shapes.marker_attributes(marker, spec.doc_type), **dict(spec.metadata)}


def _staged_creates(provider: OpenAIProvider) -> StagedCreates:
    """Never called: makes mypy check that `OpenAIProvider` implements `StagedCreates`."""
    return provider
