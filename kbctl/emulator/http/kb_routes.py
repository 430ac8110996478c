"""Handlers of the knowledge-base endpoints: check the request (422s as FastAPI words them), call
one `World` operation, shape the answer.

Owns request → operation mapping for `/v1/convai/knowledge-base/…`. Must not implement
semantics (that is the world's job) nor touch auth, faults or persistence (the app's job).
"""

from __future__ import annotations

from kbctl.emulator.http.messages import Request, Response, json_response, text_response
from kbctl.emulator.http.routing import Router
from kbctl.emulator.http.validation import Checker, body_object, query_view
from kbctl.emulator.workspace.errors import ApiProblem
from kbctl.emulator.workspace.records import DOC_TYPES, EMBEDDING_MODELS
from kbctl.emulator.workspace.world import World

P = dict[str, str]
SORT_BY = ("name", "created_at", "updated_at", "size")
DIRECTIONS = ("asc", "desc")
DEPENDENT_TYPES = ("direct", "transitive", "all")
Q = ("query",)
B = ("body",)


def _page_size(ck: Checker, r: Request) -> int:
    value = ck.integer(query_view(r.query), "page_size", Q, ge=1, le=100)
    return 30 if value is None else value


def _cursor(r: Request) -> str | None:
    values = r.query.get("cursor")
    return values[-1] if values and values[-1] else None


def create_text(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    text = ck.string(body, "text", B, required=True)
    name = ck.string(body, "name", B, min_length=1)
    parent = ck.string(body, "parent_folder_id", B)
    ck.done()
    assert text is not None
    return json_response(w.create_text(text, name, parent))


def create_url(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    url = ck.string(body, "url", B, required=True)
    name = ck.string(body, "name", B, min_length=1)
    parent = ck.string(body, "parent_folder_id", B)
    sync = ck.boolean(body, "enable_auto_sync", B)
    remove = ck.boolean(body, "auto_remove", B)
    days = ck.integer(body, "minimum_frequency_days", B, ge=1)
    ck.done()
    assert url is not None
    return json_response(
        w.create_url(
            url,
            name,
            parent,
            enable_auto_sync=bool(sync),
            auto_remove=bool(remove),
            minimum_frequency_days=days,
        )
    )


def create_file(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    fields, files = r.form()
    upload = files.get("file")
    if upload is None:
        ck.fail((*B, "file"), "missing", "Field required", None)
    name = ck.string(fields, "name", B, min_length=1)
    parent = ck.string(fields, "parent_folder_id", B)
    ck.done()
    assert upload is not None
    return json_response(w.create_file(upload.data, upload.filename or "upload", name, parent))


def create_folder(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    name = ck.string(body, "name", B, required=True, min_length=1)
    parent = ck.string(body, "parent_folder_id", B)
    sync = ck.boolean(body, "enable_auto_sync", B)
    ck.done()
    assert name is not None
    return json_response(w.create_folder(name, parent, enable_auto_sync=bool(sync)))


def add_legacy(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    fields, files = r.form()
    name = ck.string(fields, "name", B, min_length=1)
    url = ck.string(fields, "url", B)
    ck.done()
    upload = files.get("file")
    if upload is not None:
        return json_response(w.create_file(upload.data, upload.filename or "upload", name))
    if url:
        return json_response(w.create_url(url, name))
    raise ApiProblem(400, "missing_source", "Provide either a url or a file.")


def list_documents(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    q = query_view(r.query)
    size = _page_size(ck, r)
    types = ck.query_choices(r.query, "types", DOC_TYPES)
    sort_by = ck.choice(q, "sort_by", Q, SORT_BY)
    direction = ck.choice(q, "sort_direction", Q, DIRECTIONS)
    folders_first = ck.boolean(q, "folders_first", Q)
    ck.boolean(q, "show_only_owned_documents", Q)
    ck.done()
    return json_response(
        w.list_documents(
            page_size=size,
            cursor=_cursor(r),
            search=str(q["search"]) if q.get("search") else None,
            types=types or None,
            parent_folder_id=str(q["parent_folder_id"]) if q.get("parent_folder_id") else None,
            ancestor_folder_id=str(q["ancestor_folder_id"])
            if q.get("ancestor_folder_id")
            else None,
            folders_first=bool(folders_first),
            sort_by=sort_by,
            sort_direction=direction,
        )
    )


def get_document(w: World, r: Request, p: P) -> Response:
    return json_response(w.get_document(p["documentation_id"]))


def get_content(w: World, r: Request, p: P) -> Response:
    return text_response(w.get_content(p["documentation_id"]))


def source_file_url(w: World, r: Request, p: P) -> Response:
    return json_response(w.source_file_url(p["documentation_id"]))


def update_document(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    legacy = not w.config.content_patch_allowed
    name = ck.string(body, "name", B, required=legacy, min_length=1)
    content = None if legacy else ck.string(body, "content", B)
    sync = ck.boolean(body, "enable_auto_sync", B)
    remove = ck.boolean(body, "auto_remove", B)
    days = ck.integer(body, "minimum_frequency_days", B, ge=1)
    ck.boolean(body, "tighten_only", B)
    ck.done()
    return json_response(
        w.update_document(
            p["documentation_id"],
            name=name,
            content=content,
            enable_auto_sync=sync,
            auto_remove=remove,
            minimum_frequency_days=days,
        )
    )


def update_file(w: World, r: Request, p: P) -> Response:
    _, files = r.form()
    upload = files.get("file")
    if upload is None:
        ck = Checker()
        ck.fail((*B, "file"), "missing", "Field required", None)
        ck.done()
    assert upload is not None
    return json_response(
        w.update_file(p["documentation_id"], upload.data, upload.filename or "upload")
    )


def refresh(w: World, r: Request, p: P) -> Response:
    return json_response(w.refresh(p["documentation_id"]))


def delete_document(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    force = ck.boolean(query_view(r.query), "force", Q)
    ck.done()
    w.delete_document(p["documentation_id"], bool(force))
    return json_response(None)


def bulk_delete(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    ids = ck.strings(body, "document_ids", B, required=True)
    force = ck.boolean(body, "force", B)
    ck.done()
    return json_response(w.bulk_delete(ids or [], bool(force)))


def move(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json() or {}, ck)
    target = ck.string(body, "move_to", B)
    ck.done()
    w.move(p["document_id"], target)
    return json_response(None)


def bulk_move(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    ids = ck.strings(body, "document_ids", B, required=True)
    target = ck.string(body, "move_to", B)
    ck.done()
    w.bulk_move(ids or [], target)
    return json_response(None)


def _dependents(w: World, r: Request, ids: list[str], ck: Checker) -> Response:
    kind = ck.choice(query_view(r.query), "dependent_type", Q, DEPENDENT_TYPES)
    size = _page_size(ck, r)
    ck.done()
    return json_response(w.dependent_agents(ids, kind or "all", size, _cursor(r)))


def dependent_agents(w: World, r: Request, p: P) -> Response:
    w.get_document(p["documentation_id"])  # 404 for an unknown id
    return _dependents(w, r, [p["documentation_id"]], Checker())


def bulk_dependent_agents(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    ids = ck.strings(body, "document_ids", B, required=True)
    return _dependents(w, r, ids or [], ck)


def summaries(w: World, r: Request, p: P) -> Response:
    ids = r.query.get("document_ids", [])
    if not ids:
        ck = Checker()
        ck.fail((*Q, "document_ids"), "missing", "Field required", None)
        ck.done()
    return json_response(w.summaries(ids))


def content_search(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    query = ck.string(query_view(r.query), "query", Q, required=True)
    size = _page_size(ck, r)
    types = ck.query_choices(r.query, "types", DOC_TYPES)
    ck.done()
    assert query is not None
    return json_response(w.content_search(query, types or None, size, _cursor(r)))


def chunks(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    model = ck.choice(query_view(r.query), "embedding_model", Q, EMBEDDING_MODELS, required=True)
    size = _page_size(ck, r)
    ck.done()
    assert model is not None
    return json_response(w.chunks(p["documentation_id"], model, size, _cursor(r)))


def chunk(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    model = ck.choice(query_view(r.query), "embedding_model", Q, EMBEDDING_MODELS)
    ck.done()
    return json_response(w.chunk(p["documentation_id"], p["chunk_id"], model))


def compute_index(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    model = ck.choice(body, "model", B, EMBEDDING_MODELS, required=True)
    ck.done()
    assert model is not None
    return json_response(w.compute_index(p["documentation_id"], model))


def document_indexes(w: World, r: Request, p: P) -> Response:
    return json_response(w.document_indexes(p["documentation_id"]))


def delete_index(w: World, r: Request, p: P) -> Response:
    return json_response(w.delete_index(p["documentation_id"], p["rag_index_id"]))


def overview(w: World, r: Request, p: P) -> Response:
    return json_response(w.overview())


def batch_indexes(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    items = ck.array(body, "items", B, required=True)
    parsed: list[tuple[str, bool, str]] = []
    if items is not None:
        if not 1 <= len(items) <= 100:
            kind, words = (
                ("too_short", "at least 1 item") if not items else ("too_long", "at most 100 items")
            )
            ck.fail(
                (*B, "items"),
                kind,
                f"List should have {words} after validation, not {len(items)}",
                items,
            )
        for i, item in enumerate(items):
            loc = (*B, "items", i)
            if not isinstance(item, dict):
                ck.fail(
                    loc,
                    "model_type",
                    "Input should be a valid dictionary or instance of "
                    "GetOrCreateRagIndexRequestModel",
                    item,
                )
                continue
            doc_id = ck.string(item, "document_id", loc, required=True)
            create = ck.boolean(item, "create_if_missing", loc, required=True)
            model = ck.choice(item, "model", loc, EMBEDDING_MODELS, required=True)
            if doc_id is not None and create is not None and model is not None:
                parsed.append((doc_id, create, model))
    ck.done()
    return json_response(w.batch_indexes(parsed))


def not_emulated(w: World, r: Request, p: P) -> Response:
    raise ApiProblem(501, "not_emulated", f"{r.method} {r.path} is not emulated by kbctl.")


def register(router: Router) -> None:
    """Add every knowledge-base route to `router`."""
    kb = "/v1/convai/knowledge-base"
    doc = kb + "/{documentation_id}"
    for method, path, handler, writes in (
        ("POST", kb + "/text", create_text, True),
        ("POST", kb + "/url", create_url, True),
        ("POST", kb + "/file", create_file, True),
        ("POST", kb + "/folder", create_folder, True),
        ("POST", kb, add_legacy, True),
        ("GET", kb, list_documents, False),
        ("GET", kb + "/summaries", summaries, False),
        ("GET", kb + "/search", content_search, False),
        ("GET", kb + "/rag-index", overview, False),
        ("POST", kb + "/rag-index", batch_indexes, True),
        ("POST", kb + "/bulk-delete", bulk_delete, True),
        ("POST", kb + "/bulk-move", bulk_move, True),
        ("POST", kb + "/dependent-agents", bulk_dependent_agents, False),
        ("POST", kb + "/crawl", not_emulated, False),
        ("GET", kb + "/crawl", not_emulated, False),
        ("GET", kb + "/crawl/{crawl_job_id}", not_emulated, False),
        ("POST", kb + "/crawl/{crawl_job_id}/cancel", not_emulated, False),
        ("GET", doc, get_document, False),
        ("PATCH", doc, update_document, True),
        ("DELETE", doc, delete_document, True),
        ("GET", doc + "/content", get_content, False),
        ("GET", doc + "/source-file-url", source_file_url, False),
        ("PATCH", doc + "/update-file", update_file, True),
        ("POST", doc + "/refresh", refresh, True),
        ("POST", kb + "/{document_id}/move", move, True),
        ("GET", doc + "/dependent-agents", dependent_agents, False),
        ("GET", doc + "/chunks", chunks, False),
        ("GET", doc + "/chunk/{chunk_id}", chunk, False),
        ("POST", doc + "/rag-index", compute_index, True),
        ("GET", doc + "/rag-index", document_indexes, False),
        ("DELETE", doc + "/rag-index/{rag_index_id}", delete_index, True),
    ):
        router.add(method, path, handler, writes=writes)
