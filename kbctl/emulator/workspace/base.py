"""The emulator's workspace state and the primitives every operation shares: the one lock, ids,
lookups, folder structure, listing orders, dependents, agent versions, RAG index attempts and
the change log that persistence drains.

Owns the in-memory data and its invariants. Must not know about HTTP or files: operations live in
`docs`, `rag` and `agents`; `World` (in `world`) ties them together and to a `Store`.
"""

from __future__ import annotations

import threading
from collections import Counter

from kbctl.clock import Clock
from kbctl.emulator.config import EmulatorConfig
from kbctl.emulator.workspace.agent_config import referenced_ids, without_ids
from kbctl.emulator.workspace.errors import ApiProblem, not_found
from kbctl.emulator.workspace.paging import Ordering, SortKey
from kbctl.emulator.workspace.records import Agent, AgentVersion, Document, Json, RagIndex, make_id
from kbctl.emulator.workspace.search import Bm25Index

#: Index outcomes reported at once, without a `created`/`processing` phase.
IMMEDIATE_OUTCOMES = frozenset({"document_too_small", "cannot_index_folder", "rag_limit_exceeded"})
SORT_FIELDS = ("name", "created_at", "updated_at", "size")
#: Per document id: agent id -> None (direct reference) or the folder ids it goes through.
Dependents = dict[str, dict[str, list[str] | None]]


class WorldBase:
    """State and shared primitives. Every public method of `World` holds `self._lock`."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.RLock()
        self._docs: dict[str, Document] = {}
        self._children: dict[str, set[str]] = {}
        self._indexes: dict[str, RagIndex] = {}
        self._doc_indexes: dict[str, dict[str, str]] = {}
        self._reserved_bytes = 0
        self._agents: dict[str, Agent] = {}
        self._versions: dict[str, AgentVersion] = {}
        self._serial = 0
        self._doc_seq = 0
        self._orders: dict[tuple[str, bool, bool], Ordering[Document]] = {}
        self._dependents: Dependents | None = None
        self._search = Bm25Index()
        self._search_stale: set[str] = set()
        self._dirty: dict[str, set[str]] = {
            k: set() for k in ("documents", "indexes", "agents", "versions")
        }
        self._meta_dirty = False
        #: Requests per route template, e.g. `"GET /v1/convai/knowledge-base"`.
        self.calls: Counter[str] = Counter()

    # ------------------------------------------------------------------ basics
    def _new_id(self, prefix: str = "") -> str:
        self._serial += 1
        self._meta_dirty = True
        return prefix + make_id(self.config.seed, self._serial)

    def _now(self) -> int:
        return int(self.clock.now())

    def _mark(self, kind: str, key: str) -> None:
        self._dirty[kind].add(key)

    def _doc(self, doc_id: str) -> Document:
        doc = self._docs.get(doc_id)
        if doc is None:
            raise not_found("document", doc_id)
        return doc

    def _agent(self, agent_id: str) -> Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise not_found("agent", agent_id)
        return agent

    def _head(self, agent: Agent) -> AgentVersion:
        return self._versions[agent.version_ids[-1]]

    def _docs_changed(self, *doc_ids: str) -> None:
        """Invalidate what depends on documents (orders, dependents, search) and mark them dirty."""
        self._orders.clear()
        self._dependents = None
        for doc_id in doc_ids:
            self._search_stale.add(doc_id)
            self._mark("documents", doc_id)

    # ------------------------------------------------------------------ folders
    def _ancestors(self, doc: Document) -> list[Document]:
        """Folders containing `doc`, root first."""
        chain: list[Document] = []
        seen: set[str] = set()
        parent = doc.parent_id
        while parent is not None and parent in self._docs and parent not in seen:
            seen.add(parent)
            folder = self._docs[parent]
            chain.append(folder)
            parent = folder.parent_id
        chain.reverse()
        return chain

    def _path_ids(self, doc: Document) -> list[str]:
        return [f.id for f in self._ancestors(doc)]

    def _descendants(self, folder_id: str) -> list[str]:
        out: list[str] = []
        stack = [folder_id]
        while stack:
            for child in sorted(self._children.get(stack.pop(), ())):
                out.append(child)
                stack.append(child)
        return out

    def _counts(self, doc: Document) -> tuple[int, int]:
        if doc.doc_type != "folder":
            return (0, 0)
        children = len(self._children.get(doc.id, ()))
        documents = sum(1 for d in self._descendants(doc.id) if self._docs[d].doc_type != "folder")
        return children, min(documents, 1000)

    def _set_parent(self, doc: Document, parent_id: str | None) -> None:
        if doc.parent_id is not None:
            self._children.get(doc.parent_id, set()).discard(doc.id)
        doc.parent_id = parent_id
        if parent_id is not None:
            self._children.setdefault(parent_id, set()).add(doc.id)

    def _folder(self, folder_id: str | None) -> str | None:
        """Check that `folder_id` (if given) is an existing folder."""
        if folder_id is None:
            return None
        folder = self._docs.get(folder_id)
        if folder is None:
            raise not_found("folder", folder_id)
        if folder.doc_type != "folder":
            raise ApiProblem(400, "not_a_folder", f"Document {folder_id!r} is not a folder.")
        return folder_id

    # ------------------------------------------------------------------ listing order
    def _ordering(self, sort_by: str, descending: bool, folders_first: bool) -> Ordering[Document]:
        cache_key = (sort_by, descending, folders_first)
        cached = self._orders.get(cache_key)
        if cached is not None:
            return cached

        def key(doc: Document) -> SortKey:
            rank = (
                0 if (folders_first and doc.doc_type == "folder") else (1 if folders_first else 0)
            )
            primary: object = {
                "name": doc.name.casefold(),
                "created_at": doc.created_at,
                "updated_at": doc.updated_at,
                "size": doc.size_bytes,
            }[sort_by]
            return (rank, primary, doc.seq)

        keyed = [(key(d), d) for d in self._docs.values()]
        keyed.sort(key=lambda kd: (kd[0][1], kd[0][2]), reverse=descending)
        keyed.sort(key=lambda kd: kd[0][0])
        ordering = Ordering(
            items=[d for _, d in keyed],
            positions={d.id: i for i, (_, d) in enumerate(keyed)},
            keys=[k for k, _ in keyed],
            descending=descending,
        )
        self._orders[cache_key] = ordering
        return ordering

    # ------------------------------------------------------------------ dependents
    def _dependents_map(self) -> Dependents:
        if self._dependents is not None:
            return self._dependents
        out: Dependents = {}
        for agent in self._agents.values():
            head = self._head(agent)
            for ref in sorted(referenced_ids(head.conversation_config, head.workflow)):
                out.setdefault(ref, {})[agent.agent_id] = None
                target = self._docs.get(ref)
                if target is not None and target.doc_type == "folder":
                    for inner in self._descendants(ref):
                        per_doc = out.setdefault(inner, {})
                        via = per_doc.get(agent.agent_id, [])
                        if via is not None:
                            per_doc[agent.agent_id] = [*via, ref]
        self._dependents = out
        return out

    def _dependents_of(
        self, doc_ids: list[str], dependent_type: str
    ) -> dict[str, list[str] | None]:
        """Agents depending on any of `doc_ids`: agent id -> None (direct) or via-ids."""
        merged: dict[str, list[str] | None] = {}
        table = self._dependents_map()
        for doc_id in doc_ids:
            for agent_id, via in table.get(doc_id, {}).items():
                if via is None and dependent_type == "transitive":
                    continue
                if via is not None and dependent_type == "direct":
                    continue
                if agent_id in merged and merged[agent_id] is None:
                    continue
                merged[agent_id] = (
                    via if via is None else sorted(set((merged.get(agent_id) or []) + via))
                )
        return dict(sorted(merged.items()))

    # ------------------------------------------------------------------ agent versions
    def _commit(
        self,
        agent: Agent,
        *,
        name: str,
        tags: list[str],
        conversation_config: Json,
        platform_settings: Json,
        workflow: Json | None,
        description: str,
    ) -> AgentVersion:
        """Append a new version to `agent`'s main branch and make it the head."""
        now = self._now()
        parent = agent.version_ids[-1] if agent.version_ids else None
        version = AgentVersion(
            id=self._new_id("agtvrsn_"),
            agent_id=agent.agent_id,
            branch_id=agent.main_branch_id,
            seq_no=len(agent.version_ids),
            committed_at=now,
            description=description,
            name=name,
            tags=list(tags),
            conversation_config=conversation_config,
            platform_settings=platform_settings,
            workflow=workflow,
            parent_id=parent,
        )
        self._versions[version.id] = version
        agent.version_ids.append(version.id)
        agent.updated_at = now
        self._dependents = None
        self._mark("versions", version.id)
        self._mark("agents", agent.agent_id)
        return version

    def _detach(self, doc_ids: set[str], description: str) -> list[str]:
        """Remove every reference to `doc_ids` from every agent (a new version each); returns
        the ids of the agents changed."""
        changed: list[str] = []
        for agent in self._agents.values():
            head = self._head(agent)
            if not referenced_ids(head.conversation_config, head.workflow) & doc_ids:
                continue
            cc, wf = without_ids(head.conversation_config, head.workflow, doc_ids)
            self._commit(
                agent,
                name=head.name,
                tags=head.tags,
                conversation_config=cc,
                platform_settings=head.platform_settings,
                workflow=wf,
                description=description,
            )
            changed.append(agent.agent_id)
        return changed

    # ------------------------------------------------------------------ RAG indexes
    def _index_state(self, ix: RagIndex) -> tuple[str, float, int]:
        """(status, progress_percentage, used_bytes) of `ix` now."""
        if ix.outcome in IMMEDIATE_OUTCOMES:
            return ix.outcome, 0.0, 0
        elapsed = self.clock.now() - ix.requested_at
        total = self.config.index_seconds
        if elapsed >= total:
            if ix.outcome == "succeeded":
                return "succeeded", 100.0, ix.size_bytes
            return ix.outcome, 100.0, 0
        if elapsed <= 0:
            return "created", 0.0, 0
        return "processing", round(min(99.9, 100.0 * elapsed / total), 1), 0

    def _outcome(self, doc: Document) -> str:
        """The terminal status a new attempt will reach (decided at request time)."""
        if doc.doc_type == "folder":
            return "cannot_index_folder"
        if doc.size_bytes < self.config.min_index_bytes:
            return "document_too_small"
        if self._reserved_bytes + doc.size_bytes > self.config.rag_quota_bytes:
            return "rag_limit_exceeded"
        if any(text in doc.text for text in self.config.fail_index_containing):
            return "failed"
        return "succeeded"

    def _release(self, ix: RagIndex) -> None:
        if ix.outcome == "succeeded":
            self._reserved_bytes -= ix.size_bytes

    def _request_index(self, doc: Document, model: str, *, create: bool = True) -> RagIndex | None:
        """Get-or-create the index of `doc` for `model`. An existing index is returned as it is,
        terminal failures included (so polling with POST terminates); a new attempt needs the
        index deleted first (or new content, which drops the document's indexes)."""
        index_id = self._doc_indexes.get(doc.id, {}).get(model)
        if index_id is not None:
            return self._indexes[index_id]
        if not create:
            return None
        ix = RagIndex(self._new_id(), doc.id, model, self.clock.now(), "succeeded", doc.size_bytes)
        ix.outcome = self._outcome(doc)
        if ix.outcome == "succeeded":
            self._reserved_bytes += ix.size_bytes
        self._indexes[ix.id] = ix
        self._doc_indexes.setdefault(doc.id, {})[model] = ix.id
        self._mark("indexes", ix.id)
        return ix

    def _drop_indexes(self, doc_id: str) -> None:
        for index_id in self._doc_indexes.pop(doc_id, {}).values():
            ix = self._indexes.pop(index_id, None)
            if ix is not None:
                self._release(ix)
            self._mark("indexes", index_id)

    def _delete_index(self, ix: RagIndex) -> None:
        self._release(ix)
        del self._indexes[ix.id]
        models = self._doc_indexes.get(ix.document_id, {})
        models.pop(ix.model, None)
        if not models:
            self._doc_indexes.pop(ix.document_id, None)
        self._mark("indexes", ix.id)

    # ------------------------------------------------------------------ search
    def _search_index(self) -> Bm25Index:
        for doc_id in self._search_stale:
            doc = self._docs.get(doc_id)
            if doc is None or doc.doc_type == "folder":
                self._search.remove(doc_id)
            else:
                self._search.add(doc_id, f"{doc.name}\n{doc.text}")
        self._search_stale.clear()
        return self._search
