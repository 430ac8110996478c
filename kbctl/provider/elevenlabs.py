"""`ElevenLabsProvider`: the `Provider` protocol over the ElevenLabs KB and agent endpoints.

Owns endpoint paths and the wire JSON ↔ model conversion; wire dicts never leave this module.
All HTTP goes through `ApiClient` (retries, errors, secrets live there). Reads tolerate absent vs
`null` fields and unknown enum values (a listing entry of an unknown type is skipped; an unknown
index status reads as `IndexStatus.UNKNOWN`). The one exception is the agent's `knowledge_base`:
an entry kbctl cannot represent is an error, because writing the array back without it would
silently detach it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

from kbctl.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitedError,
    UsageError,
)
from kbctl.identity import parse_marker
from kbctl.model import (
    DocType,
    DocumentSpec,
    IndexStatus,
    KbEntry,
    LiveAgent,
    LiveDocument,
    LiveState,
    Marker,
    RagQuota,
    RagSettings,
    UsageMode,
)
from kbctl.provider import wire
from kbctl.provider.base import (
    BranchRef,
    DeleteOutcome,
    Dependents,
    IndexState,
    Provider,
    SearchHit,
)
from kbctl.provider.http import AmbiguousWriteError, ApiClient, FilePart, Params
from kbctl.provider.wire import JsonObject, ShapeError

KB = "/v1/convai/knowledge-base"
AGENTS = "/v1/convai/agents"
MAX_PAGE_SIZE = 100
#: Statuses a refused delete (document still in use) may come with: the real one is UNCONFIRMED.
IN_USE_STATUSES = frozenset({400, 409, 412, 423})
_IN_USE_WORDS = ("in use", "in_use", "used by", "dependent", "depend", "attached", "referenced")


@dataclass(frozen=True, slots=True)
class _Listed:
    """One entry of the document listing."""

    id: str
    name: str
    doc_type: DocType
    size_bytes: int


def _seg(ident: str) -> str:
    """An id as one URL path segment."""
    return quote(ident, safe="")


@contextmanager
def _reading(method: str, path: str) -> Iterator[None]:
    """Turn a `ShapeError` raised while reading an answer into a `ProtocolError`."""
    try:
        yield
    except ShapeError as exc:
        raise ProtocolError(
            "The API sent an answer kbctl cannot read",
            method=method,
            path=path,
            detail=f"{method} {path}: {exc}",
            hint="The API may have changed; check for a newer kbctl, or re-run with --debug.",
        ) from None


def _renamed(exc: NotFoundError, summary: str, hint: str | None) -> NotFoundError:
    return NotFoundError(
        summary,
        method=exc.method,
        path=exc.path,
        status=exc.status,
        code=exc.code,
        detail=exc.detail,
        hint=hint,
    )


class ElevenLabsProvider:
    """The ElevenLabs API (or the emulator) as a `kbctl.provider.base.Provider`."""

    def __init__(self, client: ApiClient, *, page_size: int = MAX_PAGE_SIZE) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise UsageError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self._client = client
        self._page_size = page_size

    # ---------------------------------------------------------------------------------------
    # Reading

    def read_state(
        self, agent_id: str, project: str, environment: str, *, with_quota: bool = True
    ) -> LiveState:
        """1 agent read + the list pages + 1 quota read (when `with_quota`), nothing more."""
        agent = self.get_agent(agent_id)
        listed = self._list_documents()
        quota = self.quota() if with_quota else None

        def ours(name: str) -> Marker | None:
            marker = parse_marker(name)
            if marker and marker.project == project and marker.environment == environment:
                return marker
            return None

        attached = {entry.id for entry in agent.knowledge_base}
        docs: dict[str, LiveDocument] = {}
        for item in listed:
            marker = ours(item.name)
            if marker is not None or item.id in attached:
                docs[item.id] = LiveDocument(
                    item.id, item.name, item.doc_type, item.size_bytes, marker
                )
        for entry in agent.knowledge_base:
            if entry.id not in docs:  # not in the root listing (e.g. a folder or in a folder)
                docs[entry.id] = LiveDocument(
                    entry.id, entry.name, entry.doc_type, 0, ours(entry.name)
                )
        documents = tuple(sorted(docs.values(), key=lambda d: d.id))
        return LiveState(agent=agent, documents=documents, quota=quota)

    def get_agent(self, agent_id: str) -> LiveAgent:
        """Read the agent alone (one GET)."""
        path = f"{AGENTS}/{_seg(agent_id)}"
        try:
            data = self._client.get_json(path, route="GET /v1/convai/agents/{agent_id}")
        except NotFoundError as exc:
            raise self._agent_not_found(exc, agent_id) from None
        with _reading("GET", path):
            return _agent(data, agent_id)

    def version_description(self, agent_id: str, version_id: str) -> str | None:
        """`GET …/agents/{id}/versions/{version_id}` → its `version_description`."""
        path = f"{AGENTS}/{_seg(agent_id)}/versions/{_seg(version_id)}"
        data = self._client.get_json(
            path, route="GET /v1/convai/agents/{agent_id}/versions/{version_id}"
        )
        with _reading("GET", path):
            return wire.opt_str(wire.obj(data, "version"), "version_description", "version")

    def find_documents_by_name(self, name: str) -> tuple[LiveDocument, ...]:
        """Every document named exactly `name`: the prefix `search` first, then a full listing
        when that finds nothing (the reference says `search` can miss documents)."""
        found = [d for d in self._list_documents(search=name) if d.name == name]
        if not found:
            found = [d for d in self._list_documents() if d.name == name]
        unique = {d.id: d for d in found}
        return tuple(
            LiveDocument(d.id, d.name, d.doc_type, d.size_bytes, parse_marker(d.name))
            for d in sorted(unique.values(), key=lambda d: d.id)
        )

    def documents_named(self, prefix: str) -> tuple[LiveDocument, ...]:
        """Every document whose name starts with `prefix` (all pages of the full listing)."""
        found = {d.id: d for d in self._list_documents() if d.name.startswith(prefix)}
        return tuple(
            LiveDocument(d.id, d.name, d.doc_type, d.size_bytes, None)
            for d in sorted(found.values(), key=lambda d: d.id)
        )

    def document_url(self, doc_id: str) -> str | None:
        """The source URL of a URL document (None for other types), from its detail."""
        path = f"{KB}/{_seg(doc_id)}"
        try:
            data = self._client.get_json(path, route="GET /v1/convai/knowledge-base/{id}")
        except NotFoundError as exc:
            raise self._doc_not_found(exc, doc_id) from None
        with _reading("GET", path):
            detail = wire.obj(data, "document")
            if wire.opt_str(detail, "type", "document") != DocType.URL.value:
                return None
            return wire.opt_str(detail, "url", "document")

    def index_state(self, doc_id: str, model: str) -> IndexState:
        """The document's index for `model`, or NOT_INDEXED."""
        path = f"{KB}/{_seg(doc_id)}/rag-index"
        try:
            data = self._client.get_json(path, route="GET /v1/convai/knowledge-base/{id}/rag-index")
        except NotFoundError as exc:
            raise self._doc_not_found(exc, doc_id) from None
        with _reading("GET", path):
            root = wire.obj(data, "answer")
            for i, item in enumerate(wire.field_list(root, "indexes", "answer")):
                where = f"indexes[{i}]"
                entry = wire.obj(item, where)
                if wire.opt_str(entry, "model", where) == model:
                    return _index(entry, where)
        return IndexState(IndexStatus.NOT_INDEXED)

    def dependents(self, doc_id: str) -> Dependents:
        """Agents and branches that use the document (every page)."""
        path = f"{KB}/{_seg(doc_id)}/dependent-agents"
        agent_ids: dict[str, None] = {}
        branches: dict[tuple[str, str], BranchRef] = {}
        unknown = 0
        route = "GET /v1/convai/knowledge-base/{id}/dependent-agents"
        try:
            with _reading("GET", path):
                for page in self._pages(path, {}, route):
                    for i, item in enumerate(wire.field_list(page, "agents", "page")):
                        where = f"agents[{i}]"
                        agent = wire.obj(item, where)
                        ident = wire.opt_str(agent, "id", where)
                        if wire.opt_str(agent, "type", where) == "available" and ident:
                            agent_ids[ident] = None
                        else:  # an agent the key cannot see (or a kind kbctl does not know)
                            unknown += 1
                    for i, item in enumerate(wire.field_list(page, "branches", "page")):
                        where = f"branches[{i}]"
                        branch = wire.obj(item, where)
                        ref = BranchRef(
                            agent_id=wire.req_str(branch, "agent_id", where),
                            branch_id=wire.req_str(branch, "branch_id", where),
                            is_main=wire.opt_bool(branch, "is_main", where) is True,
                        )
                        branches[(ref.agent_id, ref.branch_id)] = ref
        except NotFoundError as exc:
            raise self._doc_not_found(exc, doc_id) from None
        return Dependents(tuple(agent_ids), tuple(branches.values()), unknown)

    def document_content(self, doc_id: str) -> bytes:
        """The content as the API returns it (raw text, not JSON)."""
        path = f"{KB}/{_seg(doc_id)}/content"
        try:
            return self._client.get_bytes(path, route="GET /v1/convai/knowledge-base/{id}/content")
        except NotFoundError as exc:
            raise self._doc_not_found(exc, doc_id) from None

    def quota(self) -> RagQuota:
        """The workspace RAG usage overview."""
        path = f"{KB}/rag-index"
        data = self._client.get_json(path, route="GET /v1/convai/knowledge-base/rag-index")
        with _reading("GET", path):
            root = wire.obj(data, "answer")
            return RagQuota(
                used_bytes=wire.opt_int(root, "total_used_bytes", "answer") or 0,
                max_bytes=wire.opt_int(root, "total_max_bytes", "answer") or 0,
            )

    def search(self, query: str, limit: int) -> tuple[SearchHit, ...]:
        """Knowledge-base content search, best first, at most `limit` hits."""
        if limit <= 0:
            return ()
        path = f"{KB}/search"
        hits: list[SearchHit] = []
        params: Params = {"query": query, "page_size": min(limit, MAX_PAGE_SIZE)}
        pages = self._pages(path, params, "GET /v1/convai/knowledge-base/search")
        with _reading("GET", path):
            for page in pages:
                for i, item in enumerate(wire.field_list(page, "results", "page")):
                    where = f"results[{i}]"
                    result = wire.obj(item, where)
                    doc = wire.field_obj(result, "document", where)
                    if doc is None:
                        continue
                    hits.append(
                        SearchHit(
                            document_id=wire.req_str(doc, "id", f"{where}.document"),
                            name=wire.opt_str(doc, "name", f"{where}.document") or "",
                            score=wire.opt_float(result, "score", where) or 0.0,
                            snippet=_snippet(result, where),
                        )
                    )
                if len(hits) >= limit:
                    break
        return tuple(hits[:limit])

    # ---------------------------------------------------------------------------------------
    # Writing

    def create_document(self, spec: DocumentSpec, name: str) -> str:
        """Create the document; after an ambiguous failure, reuse the one that got created."""
        return self._create_named(name, lambda: self._create_once(spec, name))

    def create_folder(self, name: str) -> str:
        """Create an empty root folder; after an ambiguous failure, reuse the one that got made."""
        path = f"{KB}/folder"

        def once() -> str:
            data = self._client.send_json("POST", path, {"name": name}, route=f"POST {path}")
            with _reading("POST", path):
                return wire.req_str(wire.obj(data, "answer"), "id", "answer")

        return self._create_named(name, once)

    def _create_named(self, name: str, create: Callable[[], str]) -> str:
        """Run `create`; when its answer is lost, look for `name` before trying again."""
        attempt = 0
        while True:
            try:
                return create()
            except AmbiguousWriteError as exc:
                found = self.find_documents_by_name(name)
                if found:
                    return found[0].id
                if attempt >= self._client.max_retries:
                    raise exc.cause from None
                self._client.wait_before_retry(attempt)
                attempt += 1

    def rename_document(self, doc_id: str, name: str) -> None:
        """PATCH the document's name in place."""
        path = f"{KB}/{_seg(doc_id)}"
        try:
            self._client.send_json(
                "PATCH", path, {"name": name}, route="PATCH /v1/convai/knowledge-base/{id}"
            )
        except NotFoundError as exc:
            raise self._doc_not_found(exc, doc_id) from None

    def request_index(self, doc_id: str, model: str) -> IndexState:
        """Start (or get) the index for `model`: the endpoint is get-or-create, so retried."""
        path = f"{KB}/{_seg(doc_id)}/rag-index"
        try:
            data = self._client.send_json(
                "POST",
                path,
                {"model": model},
                idempotent=True,
                route="POST /v1/convai/knowledge-base/{id}/rag-index",
            )
        except NotFoundError as exc:
            raise self._doc_not_found(exc, doc_id) from None
        with _reading("POST", path):
            return _index(wire.obj(data, "answer"), "answer")

    def update_agent(
        self,
        agent_id: str,
        knowledge_base: Sequence[KbEntry],
        rag: RagSettings | None,
        description: str,
    ) -> LiveAgent:
        """One PATCH with the complete `knowledge_base` array and the managed RAG fields."""
        prompt: dict[str, object] = {
            "knowledge_base": [
                {
                    "type": e.doc_type.value,
                    "name": e.name,
                    "id": e.id,
                    "usage_mode": e.usage_mode.value,
                }
                for e in knowledge_base
            ]
        }
        rag_fields = dict(rag.items()) if rag is not None else {}
        if rag_fields:
            prompt["rag"] = rag_fields
        body = {
            "conversation_config": {"agent": {"prompt": prompt}},
            "version_description": description,
        }
        path = f"{AGENTS}/{_seg(agent_id)}"
        try:
            data = self._client.send_json(
                "PATCH", path, body, route="PATCH /v1/convai/agents/{agent_id}"
            )
        except NotFoundError as exc:
            if exc.code and ("document" in exc.code or "knowledge" in exc.code):
                raise  # an id in the array the API does not know, not the agent
            raise self._agent_not_found(exc, agent_id) from None
        with _reading("PATCH", path):
            return _agent(data, agent_id)

    def delete_document(self, doc_id: str) -> DeleteOutcome:
        """DELETE without `force`: deleted, already gone, or refused because it is in use."""
        path = f"{KB}/{_seg(doc_id)}"
        try:
            self._client.send_json(
                "DELETE",
                path,
                retry_conflict=False,  # a 409 here is the answer "in use", not a hiccup
                route="DELETE /v1/convai/knowledge-base/{id}",
            )
        except NotFoundError:
            return DeleteOutcome.GONE
        except (AuthError, PermissionDeniedError, RateLimitedError):
            raise  # a 403 here is a permission problem, never "in use"
        except ApiError as exc:
            if _refused_in_use(exc):
                return DeleteOutcome.IN_USE
            raise
        return DeleteOutcome.DELETED

    # ---------------------------------------------------------------------------------------
    # Helpers

    def _create_once(self, spec: DocumentSpec, name: str) -> str:
        match spec.doc_type:
            case DocType.TEXT:
                path = f"{KB}/text"
                body = {"text": spec.content.decode("utf-8"), "name": name}
                data = self._client.send_json("POST", path, body, route=f"POST {path}")
            case DocType.URL:
                path = f"{KB}/url"
                url = spec.url if spec.url is not None else spec.content.decode("utf-8")
                data = self._client.send_json(
                    "POST", path, {"url": url, "name": name}, route=f"POST {path}"
                )
            case DocType.FILE:
                path = f"{KB}/file"
                filename = spec.filename or spec.key.rsplit("/", 1)[-1]
                kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
                data = self._client.post_multipart(
                    path,
                    files={"file": FilePart(filename, spec.content, kind)},
                    fields={"name": name},
                    route=f"POST {path}",
                )
            case DocType.FOLDER:
                raise UsageError(f"kbctl does not create folders ({spec.key})")
        with _reading("POST", path):
            return wire.req_str(wire.obj(data, "answer"), "id", "answer")

    def _list_documents(self, *, search: str | None = None) -> list[_Listed]:
        """Every document of the listing (all pages); entries of unknown types are skipped."""
        path = KB
        params: Params = {"page_size": self._page_size, "search": search}
        out: list[_Listed] = []
        with _reading("GET", path):
            for page in self._pages(path, params, "GET /v1/convai/knowledge-base"):
                for i, item in enumerate(wire.field_list(page, "documents", "page")):
                    listed = _listed(item, f"documents[{i}]")
                    if listed is not None:
                        out.append(listed)
        return out

    def _pages(self, path: str, params: Params, route: str) -> Iterator[JsonObject]:
        """Follow `next_cursor` (and `has_more` where the endpoint has it) to the last page.

        Raises `ShapeError`: callers iterate inside `_reading`, which also covers their parsing.
        """
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            query: Params = {**params, "cursor": cursor}
            if "page_size" not in query:
                query = {**query, "page_size": self._page_size}
            data = self._client.get_json(path, params=query, route=route)
            page = wire.obj(data, "page")
            yield page
            next_cursor = wire.opt_str(page, "next_cursor", "page")
            has_more = wire.opt_bool(page, "has_more", "page")
            if has_more is None:  # search/chunks have no `has_more`
                has_more = bool(next_cursor)
            if not has_more:
                return
            if not next_cursor:
                raise ShapeError("page.has_more is true but page.next_cursor is missing")
            if next_cursor in seen:
                raise ShapeError(f"page.next_cursor {next_cursor!r} repeats")
            seen.add(next_cursor)
            cursor = next_cursor

    def _agent_not_found(self, exc: NotFoundError, agent_id: str) -> NotFoundError:
        return _renamed(
            exc,
            f"Agent {agent_id} not found in this workspace",
            f"Check the environment's agent_id, and that {self._client.api_key_env} and the "
            "base URL belong to the agent's workspace (residency regions are separate).",
        )

    def _doc_not_found(self, exc: NotFoundError, doc_id: str) -> NotFoundError:
        return _renamed(
            exc,
            f"Document {doc_id} not found in this workspace",
            "It may have been deleted meanwhile; re-run `kbctl plan`.",
        )


# --------------------------------------------------------------------------------------------
# Wire → model


def _agent(data: object, agent_id: str) -> LiveAgent:
    root = wire.obj(data, "agent")
    config = wire.field_obj(root, "conversation_config", "agent") or {}
    agent = wire.field_obj(config, "agent", "conversation_config") or {}
    prompt = wire.field_obj(agent, "prompt", "conversation_config.agent") or {}
    where = "conversation_config.agent.prompt"
    entries = tuple(
        _locator(item, f"{where}.knowledge_base[{i}]")
        for i, item in enumerate(wire.field_list(prompt, "knowledge_base", where))
    )
    rag = wire.field_obj(prompt, "rag", where)
    return LiveAgent(
        id=wire.opt_str(root, "agent_id", "agent") or agent_id,
        name=wire.opt_str(root, "name", "agent") or "",
        version_id=wire.opt_str(root, "version_id", "agent"),
        branch_id=wire.opt_str(root, "branch_id", "agent"),
        knowledge_base=entries,
        rag=_rag(rag, f"{where}.rag") if rag is not None else RagSettings(),
    )


def _locator(item: object, where: str) -> KbEntry:
    entry = wire.obj(item, where)
    raw_type = wire.req_str(entry, "type", where)
    raw_mode = wire.opt_str(entry, "usage_mode", where) or UsageMode.AUTO.value
    try:
        doc_type, mode = DocType(raw_type), UsageMode(raw_mode)
    except ValueError:
        # Writing the array back without this entry would detach it: refuse instead.
        raise ShapeError(
            f"{where}: type {raw_type!r} / usage_mode {raw_mode!r} is newer than this kbctl; "
            "upgrade kbctl before it changes this agent"
        ) from None
    return KbEntry(
        id=wire.req_str(entry, "id", where),
        name=wire.opt_str(entry, "name", where) or "",
        doc_type=doc_type,
        usage_mode=mode,
    )


def _rag(rag: JsonObject, where: str) -> RagSettings:
    return RagSettings(
        enabled=wire.opt_bool(rag, "enabled", where),
        embedding_model=wire.opt_str(rag, "embedding_model", where),
        max_vector_distance=wire.opt_float(rag, "max_vector_distance", where),
        max_documents_length=wire.opt_int(rag, "max_documents_length", where),
        max_retrieved_rag_chunks_count=wire.opt_int(rag, "max_retrieved_rag_chunks_count", where),
        num_candidates=wire.opt_int(rag, "num_candidates", where),
    )


def _listed(item: object, where: str) -> _Listed | None:
    doc = wire.obj(item, where)
    try:
        doc_type = DocType(wire.opt_str(doc, "type", where) or "")
    except ValueError:
        return None  # a document type newer than kbctl: not kbctl's, nothing to plan
    meta = wire.field_obj(doc, "metadata", where) or {}
    return _Listed(
        id=wire.req_str(doc, "id", where),
        name=wire.opt_str(doc, "name", where) or "",
        doc_type=doc_type,
        size_bytes=wire.opt_int(meta, "size_bytes", f"{where}.metadata") or 0,
    )


def _index(entry: JsonObject, where: str) -> IndexState:
    usage = wire.field_obj(entry, "document_model_index_usage", where) or {}
    return IndexState(
        status=IndexStatus.parse(wire.opt_str(entry, "status", where)),
        progress=wire.opt_float(entry, "progress_percentage", where) or 0.0,
        used_bytes=wire.opt_int(usage, "used_bytes", f"{where}.document_model_index_usage") or 0,
    )


def _snippet(result: JsonObject, where: str) -> str:
    """The `search_snippet` parts (`[{value, is_hit}]`) as one text; "" when absent."""
    parts = []
    raw = result.get("search_snippet")
    for part in raw if isinstance(raw, list) else []:
        if isinstance(part, dict) and isinstance(part.get("value"), str):
            parts.append(str(part["value"]))
    return "".join(parts)


def _refused_in_use(exc: ApiError) -> bool:
    """Whether a failed delete is the API's "still in use" refusal (status UNCONFIRMED)."""
    if exc.status is None or not 400 <= exc.status < 500 or exc.status == 422:
        return False
    if exc.status in IN_USE_STATUSES:
        return True
    said = " ".join(p for p in (exc.code, exc.summary) if p).lower()
    return any(word in said for word in _IN_USE_WORDS)


def _conforms(provider: ElevenLabsProvider) -> Provider:
    """Never called: makes mypy check that `ElevenLabsProvider` implements `Provider`."""
    return provider
