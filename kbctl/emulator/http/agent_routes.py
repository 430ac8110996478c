"""Handlers of the agent endpoints (`/v1/convai/agents…` and the singular
`/v1/convai/agent/{id}/knowledge-base/size`): check the request, call one `World` operation.

Owns request → operation mapping for agents. Must not implement semantics (the world's job) nor
touch auth, faults or persistence (the app's job).
"""

from __future__ import annotations

from kbctl.emulator.http.agent_schema import check_agent_body
from kbctl.emulator.http.messages import Request, Response, json_response
from kbctl.emulator.http.routing import Router
from kbctl.emulator.http.validation import Checker, body_object, query_view
from kbctl.emulator.workspace.world import World

P = dict[str, str]
Q = ("query",)
B = ("body",)
SORT_BY = ("name", "created_at", "updated_at", "call_count_7d")


def _one(r: Request, key: str) -> str | None:
    values = r.query.get(key)
    return values[-1] if values and values[-1] else None


def create_agent(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json(), ck)
    check_agent_body(ck, body, creating=True)
    ck.done()
    return json_response(w.create_agent_from_api(body))


def list_agents(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    q = query_view(r.query)
    size = ck.integer(q, "page_size", Q, ge=1, le=100)
    sort_by = ck.choice(q, "sort_by", Q, SORT_BY)
    direction = ck.choice(q, "sort_direction", Q, ("asc", "desc"))
    ck.boolean(q, "archived", Q)
    ck.boolean(q, "show_only_owned_agents", Q)
    ck.done()
    return json_response(
        w.list_agents(
            page_size=30 if size is None else size,
            cursor=_one(r, "cursor"),
            search=_one(r, "search"),
            tags=r.query.get("tags") or None,
            sort_by=sort_by,
            sort_direction=direction,
        )
    )


def summaries(w: World, r: Request, p: P) -> Response:
    ids = r.query.get("agent_ids", [])
    if not ids:
        ck = Checker()
        ck.fail((*Q, "agent_ids"), "missing", "Field required", None)
        ck.done()
    return json_response(w.agent_summaries(ids))


def get_agent(w: World, r: Request, p: P) -> Response:
    return json_response(w.get_agent(p["agent_id"], _one(r, "version_id"), _one(r, "branch_id")))


def update_agent(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json() or {}, ck)
    check_agent_body(ck, body, creating=False)
    ck.done()
    return json_response(w.update_agent(p["agent_id"], body, _one(r, "branch_id")))


def delete_agent(w: World, r: Request, p: P) -> Response:
    w.delete_agent(p["agent_id"])
    return json_response(None)


def duplicate_agent(w: World, r: Request, p: P) -> Response:
    ck = Checker()
    body = body_object(r.json() or {}, ck)
    name = ck.string(body, "name", B)
    ck.done()
    return json_response(w.duplicate_agent(p["agent_id"], name))


def agent_version(w: World, r: Request, p: P) -> Response:
    return json_response(w.agent_version(p["agent_id"], p["version_id"]))


def knowledge_base_size(w: World, r: Request, p: P) -> Response:
    return json_response(w.knowledge_base_size(p["agent_id"]))


def register(router: Router) -> None:
    """Add every agent route to `router`."""
    agents = "/v1/convai/agents"
    one = agents + "/{agent_id}"
    for method, path, handler, writes in (
        ("POST", agents + "/create", create_agent, True),
        ("GET", agents, list_agents, False),
        ("GET", agents + "/summaries", summaries, False),
        ("GET", one, get_agent, False),
        ("PATCH", one, update_agent, True),
        ("DELETE", one, delete_agent, True),
        ("POST", one + "/duplicate", duplicate_agent, True),
        ("GET", one + "/versions/{version_id}", agent_version, False),
        ("GET", "/v1/convai/agent/{agent_id}/knowledge-base/size", knowledge_base_size, False),
    ):
        router.add(method, path, handler, writes=writes)
