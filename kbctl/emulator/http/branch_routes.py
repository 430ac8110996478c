"""Handlers of agent branches, merges, deployments and the agent's rag-query: check the request
(422s as FastAPI words them), call one `World` operation.

Owns request → operation mapping for `/v1/convai/agents/{id}/branches…`, `…/deployments` and
`…/knowledge-base/rag-query`. Must not implement semantics (the workspace's job) nor touch
auth, faults or persistence (the app's job).
"""

from __future__ import annotations

from kbctl.emulator.http.agent_schema import check_agent_body
from kbctl.emulator.http.messages import Request, Response, error_response, json_response
from kbctl.emulator.http.routing import Router
from kbctl.emulator.http.validation import Checker, Loc, body_object, query_view
from kbctl.emulator.workspace.errors import ApiProblem
from kbctl.emulator.workspace.world import World

P = dict[str, str]
Q = ("query",)
B = ("body",)
PROTECTION = ("writer_perms_required", "admin_perms_required")
STRATEGIES = ("semantic", "keyword", "cat", "ls")


def _one(r: Request, key: str) -> str | None:
    values = r.query.get(key)
    return values[-1] if values and values[-1] else None


def list_branches(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    q = query_view(r.query)
    archived = ck.boolean(q, "include_archived", Q)
    limit = ck.integer(q, "limit", Q, ge=1)
    ck.boolean(q, "include_commit_status", Q)
    ck.done()
    return json_response(w.list_branches(p["agent_id"], bool(archived), limit))


def create_branch(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    ck.string(body, "parent_version_id", B, required=True)
    ck.string(body, "name", B, required=True, min_length=1)
    ck.string(body, "description", B, required=True)
    ck.boolean(body, "include_draft", B)
    check_agent_body(ck, body, creating=False)
    ck.done()
    return json_response(w.create_branch(p["agent_id"], body))


def get_branch(w: World, r: Request, p: P) -> Response:
    return json_response(w.get_branch(p["agent_id"], p["branch_id"]))


def update_branch(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json() or {}, ck)
    name = ck.string(body, "name", B, min_length=1)
    description = ck.string(body, "description", B)
    archived = ck.boolean(body, "is_archived", B)
    protection = ck.choice(body, "protection_status", B, PROTECTION)
    ck.boolean(body, "auto_rebase", B)
    ck.done()
    return json_response(
        w.update_branch(
            p["agent_id"],
            p["branch_id"],
            name=name,
            description=description,
            is_archived=archived,
            protection_status=protection,
        )
    )


def _target(ck: Checker, r: Request) -> str:
    target = ck.string(query_view(r.query), "target_branch_id", Q, required=True)
    return target or ""


def merge_preview(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    target = _target(ck, r)
    ck.boolean(query_view(r.query), "force", Q)
    ck.done()
    return json_response(w.merge_preview(p["agent_id"], p["branch_id"], target))


def merge_branch(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    target = _target(ck, r)
    body = body_object(r.json() or {}, ck)
    archive = ck.boolean(body, "archive_source_branch", B)
    force = ck.boolean(body, "force", B)
    ck.done()
    return json_response(
        w.merge_branch(
            p["agent_id"],
            p["branch_id"],
            target,
            archive_source_branch=bool(archive),
            force=bool(force),
        )
    )


def create_deployment(w: World, r: Request, p: P) -> Response:
    """The SDK wraps the request as `{"deployment_request": {"requests": [...]}}`; the bare
    `{"requests": [...]}` of the reference is accepted too."""
    ck = Checker()
    body = body_object(r.json(), ck)
    loc: Loc = B
    wrapped = ck.obj(body, "deployment_request", B)
    if wrapped is not None:
        body, loc = wrapped, (*B, "deployment_request")
    items = ck.array(body, "requests", loc, required=True)
    parsed: list[tuple[str, float]] = []
    for i, item in enumerate(items or []):
        here: Loc = (*loc, "requests", i)
        if not isinstance(item, dict):
            ck.fail(here, "model_type", "Input should be a valid dictionary", item)
            continue
        branch_id = ck.string(item, "branch_id", here, required=True)
        strategy = ck.obj(item, "deployment_strategy", here, required=True)
        share = None
        if strategy is not None:
            sloc: Loc = (*here, "deployment_strategy")
            ck.choice(strategy, "type", sloc, ("percentage",))
            share = ck.number(strategy, "traffic_percentage", sloc, required=True, ge=0, le=100)
        if branch_id is not None and share is not None:
            parsed.append((branch_id, share))
    ck.done()
    return json_response(w.create_deployment(p["agent_id"], parsed))


def list_deployments(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    q = query_view(r.query)
    page = ck.integer(q, "page", Q, ge=0)
    size = ck.integer(q, "page_size", Q, ge=1, le=100)
    ck.done()
    return json_response(w.list_deployments(p["agent_id"], page or 0, size or 30))


def rag_query(w: World, r: Request, p: P) -> Response:
    if w.config.no_rag_query:
        return error_response(404, "not_found", f"No endpoint {r.method} {r.path}.")
    ck = Checker()
    body = body_object(r.json(), ck)
    strategy = ck.choice(body, "strategy", B, STRATEGIES) or "semantic"
    query = ck.string(body, "query", B, required=True, min_length=1)
    documents = ck.strings(body, "documents", B)
    defaults = ck.boolean(body, "use_agent_defaults", B)
    length = ck.integer(body, "max_documents_length", B, ge=1, le=50000)
    count = ck.integer(body, "max_retrieved_rag_chunks_count", B, ge=1, le=20)
    ck.done()
    assert query is not None
    if strategy not in ("semantic", "keyword"):
        raise ApiProblem(501, "not_emulated", f"The {strategy} strategy is not emulated by kbctl.")
    return json_response(
        w.rag_query(
            p["agent_id"],
            query,
            strategy=strategy,
            documents=documents,
            branch_id=_one(r, "branch_id"),
            use_agent_defaults=defaults is not False,
            max_documents_length=length,
            max_retrieved_rag_chunks_count=count,
        )
    )


def register(router: Router) -> None:
    """Add the branch, deployment and rag-query routes to `router`."""
    one = "/v1/convai/agents/{agent_id}"
    branch = one + "/branches/{branch_id}"
    for method, path, handler, writes in (
        ("GET", one + "/branches", list_branches, False),
        ("POST", one + "/branches", create_branch, True),
        ("GET", branch, get_branch, False),
        ("PATCH", branch, update_branch, True),
        ("GET", branch + "/merge-preview", merge_preview, False),
        ("POST", branch + "/merge", merge_branch, True),
        ("POST", one + "/deployments", create_deployment, True),
        ("GET", one + "/deployments", list_deployments, False),
        ("POST", one + "/knowledge-base/rag-query", rag_query, False),
    ):
        router.add(method, path, handler, writes=writes)
