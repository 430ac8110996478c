"""Reading the knowledge base: a document's detail and content, the listing with its filters
and cursors, summaries, dependent agents (with the branches that reference) and content search.

Owns the read-side endpoints on workspace state. Must not change anything (writes live in
`documents`) nor parse requests; each method takes the lock.
"""

from __future__ import annotations

from kbctl.emulator.workspace import agent_shapes
from kbctl.emulator.workspace import shapes as wire
from kbctl.emulator.workspace.errors import ApiProblem
from kbctl.emulator.workspace.index_attempts import IndexAttempts
from kbctl.emulator.workspace.paging import decode_offset, offset_cursor, page
from kbctl.emulator.workspace.records import Document, Json
from kbctl.emulator.workspace.search import snippet


class CatalogOps(IndexAttempts):
    """Read-side document endpoints (mixed into `World`)."""

    def _detail(self, doc: Document) -> Json:
        path = [(f.id, f.name) for f in self._ancestors(doc)]
        return wire.document_detail(doc, path, self._counts(doc))

    def _summary(self, doc: Document) -> Json:
        deps = self._dependents_of([doc.id], "all")
        items = [
            agent_shapes.dependent_agent(self._head(self._agents[a]), self._agents[a], via)
            for a, (via, _) in deps.items()
        ]
        return wire.document_summary(doc, self._path_ids(doc), items, self._counts(doc))

    def get_document(self, doc_id: str) -> Json:
        """`GET /v1/convai/knowledge-base/{id}`."""
        with self._lock:
            return self._detail(self._doc(doc_id))

    def get_content(self, doc_id: str) -> str:
        """`GET …/{id}/content`: the raw text."""
        with self._lock:
            doc = self._doc(doc_id)
            if doc.doc_type == "folder":
                raise ApiProblem(400, "folder_has_no_content", f"{doc_id!r} is a folder.")
            return doc.text

    def source_file_url(self, doc_id: str) -> Json:
        """`GET …/{id}/source-file-url` (file documents only)."""
        with self._lock:
            doc = self._doc(doc_id)
            if doc.doc_type != "file":
                raise ApiProblem(400, "not_a_file_document", f"{doc_id!r} is not a file document.")
            return {"signed_url": f"https://emulator.kbctl.invalid/files/{doc.id}/{doc.filename}"}

    def list_documents(
        self,
        *,
        page_size: int = 30,
        cursor: str | None = None,
        search: str | None = None,
        types: list[str] | None = None,
        parent_folder_id: str | None = None,
        ancestor_folder_id: str | None = None,
        folders_first: bool = False,
        sort_by: str | None = None,
        sort_direction: str | None = None,
    ) -> Json:
        """`GET /v1/convai/knowledge-base`. Default order: newest first."""
        with self._lock:
            ordering = self._ordering(
                sort_by or "created_at", (sort_direction or "desc") == "desc", folders_first
            )
            prefix = search.casefold() if search else None
            wanted = set(types) if types else None

            def matches(doc: Document) -> bool:
                if wanted is not None and doc.doc_type not in wanted:
                    return False
                if prefix is not None and not doc.name.casefold().startswith(prefix):
                    return False
                if parent_folder_id is not None and doc.parent_id != parent_folder_id:
                    return False
                return ancestor_folder_id is None or ancestor_folder_id in self._path_ids(doc)

            got = page(ordering, cursor, page_size, matches, lambda d: d.id)
            return {
                "documents": [self._summary(d) for d in got.items],
                "next_cursor": got.next_cursor,
                "has_more": got.has_more,
            }

    def summaries(self, doc_ids: list[str]) -> Json:
        """`GET /v1/convai/knowledge-base/summaries`: id -> success/failure."""
        with self._lock:
            out: Json = {}
            for doc_id in doc_ids:
                doc = self._docs.get(doc_id)
                if doc is None:
                    out[doc_id] = wire.failure(
                        404, "document_not_found", f"Document {doc_id!r} was not found."
                    )
                else:
                    out[doc_id] = wire.success(self._summary(doc))
            return out

    def dependent_agents(
        self,
        doc_ids: list[str],
        dependent_type: str = "all",
        page_size: int = 30,
        cursor: str | None = None,
    ) -> Json:
        """`GET …/{id}/dependent-agents` and the bulk `POST …/dependent-agents`."""
        with self._lock:
            deps = self._dependents_of(doc_ids, dependent_type)
            start = decode_offset(cursor)
            chosen = list(deps.items())[start : start + page_size]
            more = start + page_size < len(deps)
            agents = [self._agents[a] for a, _ in chosen]
            branches = []
            for ag, (_, (_, branch_ids)) in zip(agents, chosen, strict=True):
                for branch_id in branch_ids:
                    branch = ag.branches[branch_id]
                    head = self._head(ag, branch_id)
                    branches.append(agent_shapes.dependent_branch(ag, branch, head))
            return {
                "agents": [
                    agent_shapes.dependent_agent(self._head(ag), ag, via)
                    for ag, (_, (via, _)) in zip(agents, chosen, strict=True)
                ],
                "branches": branches,
                "next_cursor": offset_cursor(start + page_size) if more else None,
                "has_more": more,
            }

    def content_search(
        self,
        query: str,
        types: list[str] | None = None,
        page_size: int = 30,
        cursor: str | None = None,
    ) -> Json:
        """`GET /v1/convai/knowledge-base/search`: BM25 over name + content, best first."""
        with self._lock:
            start = decode_offset(cursor)
            wanted = set(types) if types else None
            hits = self._search_index().search(
                query, None if wanted is None else (lambda i: self._docs[i].doc_type in wanted)
            )
            chosen = hits[start : start + page_size]
            results = []
            for doc_id, score in chosen:
                doc = self._docs[doc_id]
                results.append(
                    {
                        "document": self._summary(doc),
                        "search_snippet": snippet(doc.text, query),
                        "score": round(score, 6),
                    }
                )
            more = start + page_size < len(hits)
            return {
                "results": results,
                "next_cursor": offset_cursor(start + page_size) if more else None,
            }
