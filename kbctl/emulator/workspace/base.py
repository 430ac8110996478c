"""The emulator's workspace state and the primitives every operation shares: the one lock, ids,
lookups, folder structure, listing orders, dependents, agent versions on branches, RAG index
attempts and the change log that persistence drains.

Owns the in-memory data and its invariants. Must not know about HTTP or files: operations live in
`documents`, `indexing`, `agents` and `branches`; `World` (in `world`) ties them together and to
a `Store`.
"""

from __future__ import annotations

import threading
from collections import Counter

from kbctl.clock import Clock
from kbctl.emulator.config import EmulatorConfig
from kbctl.emulator.workspace.agent_config import referenced_ids, without_ids
from kbctl.emulator.workspace.errors import ApiProblem, not_found
from kbctl.emulator.workspace.paging import Ordering, SortKey
from kbctl.emulator.workspace.records import (
    Agent,
    AgentVersion,
    Branch,
    Document,
    Json,
    RagIndex,
    make_id,
)
from kbctl.emulator.workspace.references import References
from kbctl.emulator.workspace.search import Bm25Index

#: Per dependent agent: None (a direct reference) or the folder ids it goes through, and the
#: ids of the branches whose heads reference.
Dependent = tuple[list[str] | None, list[str]]


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
        self._refs = References()
        self._chunk_cache: dict[str, list[str]] = {}
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

    def _head(self, agent: Agent, branch_id: str | None = None) -> AgentVersion:
        """The head version of `branch_id` (default: main)."""
        branch = agent.branches[branch_id or agent.main_branch_id]
        return self._versions[branch.version_ids[-1]]

    def _branch(self, agent: Agent, branch_id: str | None) -> Branch:
        """Branch `branch_id` of `agent` (main when None); 404 `branch_not_found` otherwise."""
        branch = agent.branches.get(branch_id or agent.main_branch_id)
        if branch is None:
            raise not_found("branch", str(branch_id))
        return branch

    def _docs_changed(self, *doc_ids: str) -> None:
        """Invalidate what depends on documents (orders, search) and mark them dirty."""
        self._orders.clear()
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
    def _track_head(self, agent: Agent, branch: Branch) -> None:
        """Update the reference index for `branch`'s head (nothing held when archived)."""
        ids: set[str] = set()
        if not branch.is_archived:
            head = self._versions[branch.version_ids[-1]]
            ids = referenced_ids(head.conversation_config, head.workflow)
        self._refs.set_head((agent.agent_id, branch.id), ids, self.clock.now())

    def _untrack_agent(self, agent: Agent) -> None:
        for branch_id in agent.branches:
            self._refs.set_head((agent.agent_id, branch_id), set(), self.clock.now())

    def _rebuild_references(self) -> None:
        """Rebuild the reference index from scratch (after loading a saved workspace)."""
        self._refs.clear()
        for agent in self._agents.values():
            for branch in agent.branches.values():
                self._track_head(agent, branch)

    def _holders_of(self, doc_id: str) -> list[tuple[tuple[str, str], str | None]]:
        """Branch heads depending on `doc_id`: directly (None) or through a folder (its id)."""
        out: list[tuple[tuple[str, str], str | None]] = [
            (key, None) for key in self._refs.holders(doc_id)
        ]
        doc = self._docs.get(doc_id)
        if doc is not None:
            for folder in self._ancestors(doc):
                out.extend((key, folder.id) for key in self._refs.holders(folder.id))
        return out

    def _dependents_of(self, doc_ids: list[str], dependent_type: str) -> dict[str, Dependent]:
        """Agents depending on any of `doc_ids`, by agent id: (None for a direct dependent or
        the via-ids of a transitive one, the ids of the branches that reference)."""
        via_of: dict[str, list[str] | None] = {}
        branches: dict[str, set[str]] = {}
        for doc_id in doc_ids:
            for (agent_id, branch_id), via in self._holders_of(doc_id):
                if dependent_type == "direct" and via is not None:
                    continue
                if dependent_type == "transitive" and via is None:
                    continue
                branches.setdefault(agent_id, set()).add(branch_id)
                if via is None:
                    via_of[agent_id] = None
                elif agent_id not in via_of or via_of[agent_id] is not None:
                    via_of[agent_id] = sorted({*(via_of.get(agent_id) or []), via})
        return {a: (via_of[a], sorted(branches[a])) for a in sorted(via_of)}

    def _lagging_use(self, doc: Document) -> bool:
        """True while `doc` (or a folder holding it) lost its last user less than
        `dependency_lag_seconds` ago: the API's dependency cache has not caught up yet."""
        lag = self.config.dependency_lag_seconds
        if lag <= 0:
            return False
        now = self.clock.now()
        for item in (doc, *self._ancestors(doc)):
            released = self._refs.released_at(item.id)
            if released is not None and now - released < lag:
                return True
        return False

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
        branch_id: str | None = None,
        origin: dict[str, str] | None = None,
    ) -> AgentVersion:
        """Append a new version to a branch of `agent` (default main) and make it the head."""
        now = self._now()
        branch = agent.branches[branch_id or agent.main_branch_id]
        parent = branch.version_ids[-1] if branch.version_ids else None
        version = AgentVersion(
            id=self._new_id("agtvrsn_"),
            agent_id=agent.agent_id,
            branch_id=branch.id,
            seq_no=len(branch.version_ids),
            committed_at=now,
            description=description,
            name=name,
            tags=list(tags),
            conversation_config=conversation_config,
            platform_settings=platform_settings,
            workflow=workflow,
            parent_id=parent,
            origin=dict(origin or {}),
        )
        self._versions[version.id] = version
        branch.version_ids.append(version.id)
        agent.updated_at = now
        self._track_head(agent, branch)
        self._mark("versions", version.id)
        self._mark("agents", agent.agent_id)
        return version

    def _detach(self, doc_ids: set[str], description: str) -> list[str]:
        """Remove every reference to `doc_ids` from every live branch head (a new version
        each); returns the ids of the agents changed."""
        changed: list[str] = []
        for agent in self._agents.values():
            for branch in list(agent.branches.values()):
                if branch.is_archived:
                    continue
                head = self._versions[branch.version_ids[-1]]
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
                    branch_id=branch.id,
                )
                if agent.agent_id not in changed:
                    changed.append(agent.agent_id)
        return changed

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
