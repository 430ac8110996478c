"""`World`: the emulated ElevenLabs workspace (documents, RAG indexes, agents), thread-safe
with one lock, optionally persisted through a `Store`, plus the seeding and inspection methods
tests use.

Owns composition (the operation mixins), the public test API, and turning the change log into
store writes. Must not know about HTTP (see `kbctl.emulator.http`) or file layout (see
`persistence`), and never picks a clock itself: the caller injects one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kbctl.clock import Clock
from kbctl.emulator.config import EmulatorConfig
from kbctl.emulator.workspace import codec
from kbctl.emulator.workspace.agent_config import prompt_locators, rag_of
from kbctl.emulator.workspace.branches import BranchOps
from kbctl.emulator.workspace.documents import DocumentOps, url_placeholder
from kbctl.emulator.workspace.indexing import IndexOps
from kbctl.emulator.workspace.persistence import Store
from kbctl.emulator.workspace.records import (
    DOC_TYPES,
    AgentInfo,
    DocumentInfo,
    IndexInfo,
    Json,
)
from kbctl.emulator.workspace.retrieval import RetrievalOps


class World(DocumentOps, IndexOps, BranchOps, RetrievalOps):
    """The emulated workspace. Every method is safe to call from several threads."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        """`clock` drives indexing and timestamps: a `FakeClock` in tests, the system clock only
        when a caller (the socket server's command) passes it explicitly."""
        super().__init__(config, clock)
        self._store: Store | None = None
        self._appended = False  # this World wrote to its store (so close() compacts)

    # ------------------------------------------------------------------ seeding (tests, --agent)
    def create_agent(self, agent_id: str, name: str = "Agent", rag: Json | None = None) -> Json:
        """Create agent `agent_id` (error if it exists); `rag` overrides RAG settings."""
        with self._lock:
            if agent_id in self._agents:
                raise ValueError(f"agent {agent_id!r} already exists")
            body: Json = {
                "name": name,
                "conversation_config": {"agent": {"prompt": {"rag": dict(rag or {})}}},
            }
            agent = self._new_agent(agent_id, body)
            return self.get_agent(agent.agent_id)

    def ensure_agent(self, agent_id: str, name: str = "Agent") -> Json:
        """Agent `agent_id`, created (with defaults) if it does not exist."""
        with self._lock:
            if agent_id in self._agents:
                return self.get_agent(agent_id)
            return self.create_agent(agent_id, name=name)

    def add_document(
        self,
        doc_type: str,
        name: str,
        content: str | bytes = "",
        url: str | None = None,
        filename: str | None = None,
    ) -> str:
        """Create a document directly (as if through the API) and return its id."""
        if doc_type not in DOC_TYPES:
            raise ValueError(f"unknown document type {doc_type!r}")
        data = content.encode() if isinstance(content, str) else content
        with self._lock:
            if doc_type == "url":
                page = data or url_placeholder(url or name, self.config.url_content_bytes).encode()
                doc = self._add("url", name, page, None, url=url or name)
            elif doc_type == "file":
                doc = self._add("file", name, data, None, filename=filename or name)
            else:
                doc = self._add(doc_type, name, data if doc_type == "text" else b"", None)
            return doc.id

    def set_knowledge_base(self, agent_id: str, entries: Sequence[Mapping[str, object]]) -> Json:
        """Replace agent `agent_id`'s knowledge_base (as a PATCH would)."""
        array = [dict(entry) for entry in entries]
        return self.update_agent(
            agent_id, {"conversation_config": {"agent": {"prompt": {"knowledge_base": array}}}}
        )

    # ------------------------------------------------------------------ inspection
    @property
    def total_calls(self) -> int:
        """Requests served (every route)."""
        with self._lock:
            return sum(self.calls.values())

    def record_call(self, route_key: str) -> None:
        """Count one request to `route_key` (e.g. `"GET /v1/convai/knowledge-base"`)."""
        with self._lock:
            self.calls[route_key] += 1

    def document(self, doc_id: str) -> DocumentInfo | None:
        """A copy of document `doc_id`, or None."""
        with self._lock:
            doc = self._docs.get(doc_id)
            if doc is None:
                return None
            return DocumentInfo(
                id=doc.id,
                doc_type=doc.doc_type,
                name=doc.name,
                content=doc.text,
                data=doc.data,
                size_bytes=doc.size_bytes,
                created_at=doc.created_at,
                updated_at=doc.updated_at,
                parent_id=doc.parent_id,
                url=doc.url,
                filename=doc.filename,
            )

    def documents(self) -> list[DocumentInfo]:
        """Copies of every document, in creation order."""
        with self._lock:
            ordered = sorted(self._docs.values(), key=lambda d: d.seq)
            return [info for d in ordered if (info := self.document(d.id)) is not None]

    def agent(self, agent_id: str) -> AgentInfo | None:
        """Agent `agent_id`'s head version, or None."""
        with self._lock:
            agent = self._agents.get(agent_id)
            if agent is None:
                return None
            head = self._head(agent)
            wire_agent = self.get_agent(agent_id)
            cc = wire_agent["conversation_config"]
            assert isinstance(cc, dict)
            return AgentInfo(
                agent_id=agent.agent_id,
                name=head.name,
                version_id=head.id,
                branch_id=head.branch_id,
                version_count=len(agent.version_ids),
                knowledge_base=tuple(prompt_locators(cc)),
                rag=rag_of(cc),
                conversation_config=cc,
            )

    def agents(self) -> list[AgentInfo]:
        """Every agent's head, by agent id."""
        with self._lock:
            return [info for a in sorted(self._agents) if (info := self.agent(a)) is not None]

    def indexes(self, doc_id: str | None = None) -> list[IndexInfo]:
        """RAG indexes (of one document, or all) with their status now, by (document, model)."""
        with self._lock:
            out = []
            for ix in sorted(self._indexes.values(), key=lambda i: (i.document_id, i.model)):
                if doc_id is not None and ix.document_id != doc_id:
                    continue
                status, progress, used = self._index_state(ix)
                out.append(IndexInfo(ix.id, ix.document_id, ix.model, status, progress, used))
            return out

    # ------------------------------------------------------------------ persistence
    def attach_store(self, store: Store) -> None:
        """Load the workspace saved in `store` and save every later change there."""
        with self._lock:
            entries = store.load()
            for entry in entries:
                self._apply(entry, store)
            self._store = store
            self._rebuild_references()
            for pending in self._dirty.values():
                pending.clear()
            if store.journal_entries >= 200:
                self._snapshot()

    def _apply(self, entry: Json, store: Store) -> None:
        meta = entry.get("meta")
        if isinstance(meta, dict):
            self._serial = max(self._serial, codec.meta_int(meta, "serial"))
            self._doc_seq = max(self._doc_seq, codec.meta_int(meta, "doc_seq"))
        for kind in codec.KINDS:
            records = entry.get(kind) or {}
            assert isinstance(records, dict)
            for key, rec in records.items():
                if kind == "documents":
                    self._load_doc(key, rec, store)
                elif kind == "indexes":
                    self._load_index(key, rec)
                elif kind == "agents":
                    self._agents.pop(key, None)
                    if isinstance(rec, dict):
                        self._agents[key] = codec.agent_from_json(rec)
                else:
                    self._versions.pop(key, None)
                    if isinstance(rec, dict):
                        self._versions[key] = codec.version_from_json(rec)

    def _load_doc(self, doc_id: str, rec: object, store: Store) -> None:
        old = self._docs.pop(doc_id, None)
        if old is not None:
            self._set_parent(old, None)
        if isinstance(rec, dict):
            doc = codec.doc_from_json(rec, codec.doc_content(rec, store.read_blob))
            parent = doc.parent_id
            doc.parent_id = None
            self._docs[doc_id] = doc
            self._set_parent(doc, parent)
        self._docs_changed(doc_id)

    def _load_index(self, index_id: str, rec: object) -> None:
        old = self._indexes.get(index_id)
        if old is not None:
            self._delete_index(old)
        if isinstance(rec, dict):
            ix = codec.index_from_json(rec)
            self._indexes[ix.id] = ix
            self._doc_indexes.setdefault(ix.document_id, {})[ix.model] = ix.id
            if ix.outcome == "succeeded":
                self._reserved_bytes += ix.size_bytes

    def _records(self, kind: str, key: str) -> Json | None:
        if kind == "documents":
            doc = self._docs.get(key)
            if doc is None:
                return None
            rec = codec.doc_to_json(doc)
            if "blob" in rec and self._store is not None:
                self._store.write_blob(doc.data)
            return rec
        if kind == "indexes":
            ix = self._indexes.get(key)
            return codec.index_to_json(ix) if ix is not None else None
        if kind == "agents":
            agent = self._agents.get(key)
            return codec.agent_to_json(agent) if agent is not None else None
        version = self._versions.get(key)
        return codec.version_to_json(version) if version is not None else None

    def _meta(self) -> Json:
        return {"serial": self._serial, "doc_seq": self._doc_seq}

    def flush(self) -> None:
        """Save what changed since the last flush (no-op without a store or changes)."""
        with self._lock:
            if self._store is None:
                for pending in self._dirty.values():
                    pending.clear()
                return
            if not any(self._dirty.values()) and not self._meta_dirty:
                return
            entry: Json = {"meta": self._meta()}
            for kind, keys in self._dirty.items():
                entry[kind] = {key: self._records(kind, key) for key in sorted(keys)}
                keys.clear()
            self._meta_dirty = False
            self._store.append(entry)
            self._appended = True
            if self._store.needs_compaction:
                self._snapshot()

    def _snapshot(self) -> None:
        assert self._store is not None
        state: Json = {
            "meta": self._meta(),
            "documents": {k: codec.doc_to_json(d) for k, d in self._docs.items()},
            "indexes": {k: codec.index_to_json(i) for k, i in self._indexes.items()},
            "agents": {k: codec.agent_to_json(a) for k, a in self._agents.items()},
            "versions": {k: codec.version_to_json(v) for k, v in self._versions.items()},
        }
        live = set()
        for doc in self._docs.values():
            if len(doc.data) > codec.INLINE_LIMIT:
                live.add(self._store.write_blob(doc.data))
        self._store.write_snapshot(state, live)

    def close(self) -> None:
        """Flush, fold the journal into a fresh snapshot and give up the folder (clean
        shutdown). A World that wrote nothing leaves the files as they are: another World of
        this process may have the same folder open (two `emulator://` URLs with different
        settings), and a snapshot of what this one loaded would undo its changes."""
        with self._lock:
            self.flush()
            if self._store is not None:
                if self._appended:
                    self._snapshot()
                self._store.release()
