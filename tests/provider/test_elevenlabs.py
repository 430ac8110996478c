"""ElevenLabsProvider against hand-written wire answers: shapes, tolerance, call counts, outcomes.

The emulator contract suite (test_contract.py) covers behaviour end to end; these tests pin the
wire details the emulator may not vary (absent vs null, unknown enum values, odd statuses).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from kbctl.errors import (
    ApiError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    ServerError,
)
from kbctl.identity import document_name
from kbctl.model import (
    DocType,
    DocumentSpec,
    IndexStatus,
    KbEntry,
    RagSettings,
    UsageMode,
)
from kbctl.provider.base import BranchRef, DeleteOutcome
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient

MakeClient = Callable[..., ApiClient]
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]
AGENT = "/v1/convai/agents/agent_1"
KB = "/v1/convai/knowledge-base"
H = "0123456789ab"


class Routes:
    """A fake API: (method, path) → answer (a response, or a function of the request)."""

    def __init__(self, routes: dict[tuple[str, str], Answer]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"detail": {"status": "nope", "message": "no route"}})
        return answer(request) if callable(answer) else answer

    def bodies(self, method: str, path: str) -> list[object]:
        return [
            json.loads(r.content)
            for r in self.requests
            if r.method == method and r.url.path == path
        ]


def agent_body(kb: list[dict[str, object]] | None = None, rag: object = None) -> dict[str, object]:
    prompt: dict[str, object] = {"prompt": "hi", "knowledge_base": kb or [], "rag": rag or {}}
    return {
        "agent_id": "agent_1",
        "name": "Birby",
        "version_id": "v2",
        "branch_id": "agtbrch_main",
        "conversation_config": {"agent": {"prompt": prompt}},
    }


def summary(doc_id: str, name: str, doc_type: str = "text", size: int = 600) -> dict[str, object]:
    return {
        "id": doc_id,
        "name": name,
        "type": doc_type,
        "metadata": {"created_at_unix_secs": 1, "last_updated_at_unix_secs": 1, "size_bytes": size},
        "supported_usages": ["prompt", "auto"],
        "access_info": {},
        "dependent_agents": [],
    }


def paged(items: list[dict[str, object]], key: str = "documents", size: int = 2) -> Answer:
    """A cursor-paginated listing of `items`, `size` per page."""

    def answer(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("cursor") or 0)
        page = items[start : start + size]
        more = start + size < len(items)
        return httpx.Response(
            200,
            json={key: page, "has_more": more, "next_cursor": str(start + size) if more else None},
        )

    return answer


def quota_answer() -> httpx.Response:
    return httpx.Response(200, json={"total_used_bytes": 10, "total_max_bytes": 100, "models": []})


def mine(key: str, env: str = "staging", project: str = "birby") -> str:
    return document_name(key, project, env, H + "f" * 52)


def provider(make_client: MakeClient, routes: Routes, **kwargs: object) -> ElevenLabsProvider:
    return ElevenLabsProvider(make_client(routes, **kwargs), page_size=2)


# ------------------------------------------------------------------------------------------
# read_state


def test_read_state_calls_and_marker_filtering(make_client: MakeClient) -> None:
    listing = [
        summary("d1", mine("a.md")),
        summary("d2", mine("b.md", env="production")),  # other environment: shared
        summary("d3", mine("c.md", project="other")),  # other project
        summary("d4", "Handbook"),  # unmanaged, attached
        summary("d5", "Loose notes"),  # unmanaged, not attached
        summary("d6", mine("folder", env="production"), "folder", 0),  # other env, attached
        summary("d7", "Strange", "video"),  # unknown type: skipped
    ]
    kb: list[dict[str, object]] = [
        {"type": "text", "name": "Handbook", "id": "d4", "usage_mode": "prompt"},
        {"type": "folder", "name": mine("folder", env="production"), "id": "d6"},
        {"type": "file", "name": "Gone from listing", "id": "d9", "usage_mode": None},
        {"type": "text", "name": mine("x.md"), "id": "d8", "usage_mode": "auto"},
    ]
    routes = Routes(
        {
            ("GET", AGENT): httpx.Response(200, json=agent_body(kb)),
            ("GET", KB): paged(listing),
            ("GET", f"{KB}/rag-index"): quota_answer(),
        }
    )
    p = provider(make_client, routes)
    state = p.read_state("agent_1", "birby", "staging")
    client = p._client
    assert client.calls == 1 + 4 + 1
    assert client.route_calls == {
        "GET /v1/convai/agents/{agent_id}": 1,
        "GET /v1/convai/knowledge-base": 4,
        "GET /v1/convai/knowledge-base/rag-index": 1,
    }
    for request in routes.requests:
        assert "search" not in request.url.params
        if request.url.path == KB:
            assert request.url.params["page_size"] == "2"
    by_id = {d.id: d for d in state.documents}
    # The environments of a project share its documents: d2 (production's) concerns staging.
    assert [d.id for d in state.documents] == ["d1", "d2", "d4", "d6", "d8", "d9"]
    assert by_id["d2"].marker is not None and by_id["d2"].marker.environment == "production"
    assert by_id["d1"].marker is not None and by_id["d1"].marker.key == "a.md"
    assert by_id["d1"].size_bytes == 600
    assert by_id["d4"].marker is None
    assert by_id["d6"].marker is not None and by_id["d6"].doc_type is DocType.FOLDER
    assert by_id["d8"].marker is not None and by_id["d8"].size_bytes == 0  # from the locator
    assert by_id["d9"].doc_type is DocType.FILE and by_id["d9"].size_bytes == 0
    agent = state.agent
    assert agent.knowledge_base == (
        KbEntry("d4", "Handbook", DocType.TEXT, UsageMode.PROMPT),
        KbEntry("d6", mine("folder", env="production"), DocType.FOLDER, UsageMode.AUTO),
        KbEntry("d9", "Gone from listing", DocType.FILE, UsageMode.AUTO),
        KbEntry("d8", mine("x.md"), DocType.TEXT, UsageMode.AUTO),
    )
    assert (agent.id, agent.name, agent.version_id, agent.branch_id) == (
        "agent_1",
        "Birby",
        "v2",
        "agtbrch_main",
    )
    assert state.quota is not None and state.quota.max_bytes == 100


def test_read_state_without_quota(make_client: MakeClient) -> None:
    routes = Routes(
        {
            ("GET", AGENT): httpx.Response(200, json=agent_body()),
            ("GET", KB): httpx.Response(200, json={"documents": [], "has_more": False}),
        }
    )
    p = provider(make_client, routes)
    state = p.read_state("agent_1", "birby", "staging", with_quota=False)
    assert state.quota is None
    assert state.documents == ()
    assert state.agent.knowledge_base == ()
    assert state.agent.rag == RagSettings()
    assert p._client.calls == 2


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({}, "conversation_config"),
        ({"conversation_config": None}, "conversation_config"),
        ({"conversation_config": {}}, "conversation_config.agent"),
        ({"conversation_config": {"agent": None}}, "conversation_config.agent"),
        ({"conversation_config": {"agent": {"prompt": None}}}, "conversation_config.agent.prompt"),
        ({"conversation_config": {"agent": {"prompt": {"rag": {}}}}}, "prompt.knowledge_base"),
        (
            {"conversation_config": {"agent": {"prompt": {"knowledge_base": None, "rag": {}}}}},
            "prompt.knowledge_base",
        ),
        (
            {"conversation_config": {"agent": {"prompt": {"knowledge_base": {}, "rag": {}}}}},
            "prompt.knowledge_base",
        ),
        (
            {"conversation_config": {"agent": {"prompt": {"knowledge_base": "d1", "rag": {}}}}},
            "prompt.knowledge_base",
        ),
        ({"conversation_config": {"agent": {"prompt": {"knowledge_base": []}}}}, "prompt.rag"),
        (
            {"conversation_config": {"agent": {"prompt": {"knowledge_base": [], "rag": []}}}},
            "prompt.rag",
        ),
        (
            {
                "conversation_config": {
                    "agent": {
                        "prompt": {"knowledge_base": [{"type": "text", "id": "d1"}], "rag": {}}
                    }
                }
            },
            "knowledge_base[0].name",
        ),
    ],
)
def test_a_partial_agent_answer_is_a_protocol_error_and_nothing_is_written(
    make_client: MakeClient, config: dict[str, object], where: str
) -> None:
    """Reading "no documents attached" from a partial answer would detach everything."""
    routes = Routes(
        {
            ("GET", AGENT): httpx.Response(200, json={"agent_id": "agent_1", **config}),
            ("GET", KB): paged([]),
            ("GET", f"{KB}/rag-index"): quota_answer(),
        }
    )
    with pytest.raises(ProtocolError) as info:
        provider(make_client, routes).read_state("agent_1", "birby", "staging")
    assert where in (info.value.detail or "")
    assert "Nothing was written" in (info.value.hint or "")
    assert [r.method for r in routes.requests] == ["GET"]


def test_agent_rag_partial_and_null_fields(make_client: MakeClient) -> None:
    rag = {"enabled": True, "max_vector_distance": 1, "num_candidates": None, "new_field": [1]}
    routes = Routes({("GET", AGENT): httpx.Response(200, json=agent_body([], rag))})
    agent = provider(make_client, routes).get_agent("agent_1")
    assert agent.rag == RagSettings(enabled=True, max_vector_distance=1.0)


def test_agent_not_found(make_client: MakeClient) -> None:
    routes = Routes({})
    with pytest.raises(NotFoundError) as info:
        provider(make_client, routes).read_state("agent_1", "birby", "staging")
    assert info.value.summary == "Agent agent_1 not found in this workspace"
    assert "ELEVENLABS_API_KEY" in (info.value.hint or "")
    assert len(routes.requests) == 1


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "video", "name": "x", "id": "d1"},
        {"type": "text", "name": "x", "id": "d1", "usage_mode": "sometimes"},
    ],
)
def test_agent_entry_kbctl_cannot_represent_is_an_error(
    make_client: MakeClient, entry: dict[str, object]
) -> None:
    routes = Routes({("GET", AGENT): httpx.Response(200, json=agent_body([entry]))})
    with pytest.raises(ProtocolError) as info:
        provider(make_client, routes).get_agent("agent_1")
    assert "knowledge_base[0]" in (info.value.detail or "")
    assert "upgrade kbctl" in (info.value.detail or "")


@pytest.mark.parametrize(
    "page",
    [
        {"documents": [], "has_more": True, "next_cursor": "same"},  # the cursor repeats
        {"documents": {"a": 1}, "has_more": False},
        {"documents": [{"type": "text", "name": "no id"}], "has_more": False},
        {"documents": [summary("d1", 5)], "has_more": False},  # type: ignore[arg-type]
        [],
    ],
)
def test_unreadable_listing_is_protocol_error(make_client: MakeClient, page: object) -> None:
    routes = Routes(
        {
            ("GET", AGENT): httpx.Response(200, json=agent_body()),
            ("GET", KB): httpx.Response(200, json=page),
        }
    )
    with pytest.raises(ProtocolError) as info:
        provider(make_client, routes).read_state("agent_1", "birby", "staging")
    assert info.value.path == KB


def test_listing_without_has_more_follows_the_cursor(make_client: MakeClient) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") == "c2":
            return httpx.Response(200, json={"documents": [summary("d2", mine("b"))]})
        return httpx.Response(
            200, json={"documents": [summary("d1", mine("a"))], "next_cursor": "c2"}
        )

    routes = Routes({("GET", AGENT): httpx.Response(200, json=agent_body()), ("GET", KB): answer})
    state = provider(make_client, routes).read_state(
        "agent_1", "birby", "staging", with_quota=False
    )
    assert [d.id for d in state.documents] == ["d1", "d2"]


# ------------------------------------------------------------------------------------------
# Documents


def spec(doc_type: DocType, content: bytes, **kwargs: object) -> DocumentSpec:
    return DocumentSpec(
        key=str(kwargs.pop("key", "docs/a.md")),
        doc_type=doc_type,
        usage_mode=UsageMode.AUTO,
        content=content,
        content_hash="h" * 64,
        **kwargs,  # type: ignore[arg-type]
    )


def created(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "new1", "name": "n"})


def test_create_text_and_url(make_client: MakeClient) -> None:
    routes = Routes({("POST", f"{KB}/text"): created, ("POST", f"{KB}/url"): created})
    p = provider(make_client, routes)
    assert p.create_document(spec(DocType.TEXT, "héllo\n".encode()), "N1") == "new1"
    url = "https://example.com/faq"
    assert p.create_document(spec(DocType.URL, url.encode(), url=url), "N2") == "new1"
    assert routes.bodies("POST", f"{KB}/text") == [{"text": "héllo\n", "name": "N1"}]
    assert routes.bodies("POST", f"{KB}/url") == [{"url": url, "name": "N2"}]


def test_create_file_is_multipart(make_client: MakeClient) -> None:
    routes = Routes({("POST", f"{KB}/file"): created})
    p = provider(make_client, routes)
    doc = spec(DocType.FILE, b"%PDF-1.7\x00\xff", key="kb/price.pdf", filename="price.pdf")
    assert p.create_document(doc, "Price · kbctl") == "new1"
    body = routes.requests[0].read()
    assert b'name="file"; filename="price.pdf"' in body
    assert b"Content-Type: application/pdf" in body
    assert b"%PDF-1.7\x00\xff" in body
    assert "Price · kbctl".encode() in body


def test_lost_create_is_tried_again_without_listing(make_client: MakeClient) -> None:
    """A 500 on create: the create is sent again (no list request per failure), and the ledger
    records the lost answer and the answered one, for apply's reconciliation."""
    name = mine("a.md")
    answers = [httpx.Response(500, text="oops"), httpx.Response(200, json={"id": "d1"})]
    routes = Routes(
        {
            ("POST", f"{KB}/text"): lambda request: answers.pop(0),
            ("GET", KB): paged([summary("zz", "other")]),
        }
    )
    p = provider(make_client, routes)
    assert p.create_document(spec(DocType.TEXT, b"x" * 600), name) == "d1"
    assert [r.method for r in routes.requests] == ["POST", "POST"]
    view = p.create_ledger.take()
    assert [lost.name for lost in view.lost] == [name]
    assert [(a.doc_id, a.name) for a in view.answered] == [("d1", name)]
    assert view.lost[0].sent_at <= view.answered[0].answered_at
    assert p.create_ledger.take().lost == ()  # taken: the ledger starts empty again


def test_create_whose_every_answer_was_lost_is_looked_for_with_bounded_queries(
    make_client: MakeClient,
) -> None:
    """Every attempt answered 504: the last resort looks for the name. Search misses it: the
    newest page finds it; no cursor is ever followed (O(1) whatever the workspace size)."""
    name = mine("a.md")
    old = [summary(f"old{i:04}", f"doc {i}") for i in range(500)]

    def listing(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        assert "cursor" not in params  # first pages only
        if "search" in params:  # the search index missed it
            return httpx.Response(200, json={"documents": [], "has_more": False})
        assert (params["sort_by"], params["sort_direction"]) == ("created_at", "desc")
        newest = [summary("d1", name), *old][: int(params["page_size"])]
        return httpx.Response(200, json={"documents": newest, "has_more": True, "next_cursor": "c"})

    routes = Routes(
        {("POST", f"{KB}/text"): httpx.Response(504, text="gateway"), ("GET", KB): listing}
    )
    p = provider(make_client, routes, max_retries=2)
    assert p.create_document(spec(DocType.TEXT, b"x"), name) == "d1"
    assert [r.method for r in routes.requests[:3]] == ["POST"] * 3  # no lookup between tries
    assert len(p.create_ledger.take().lost) == 3
    lists = [r for r in routes.requests if r.method == "GET"]
    assert len(lists) == 2
    assert lists[0].url.params["search"] == name
    assert lists[0].url.params["sort_by"] == "created_at"


def test_ambiguous_create_retry_is_reported(make_client: MakeClient) -> None:
    from kbctl.provider.retry import RetryNotice

    notices: list[RetryNotice] = []
    answers = [httpx.Response(502, text="bad"), httpx.Response(200, json={"id": "d9"})]
    routes = Routes(
        {
            ("POST", f"{KB}/text"): lambda request: answers.pop(0),
            ("GET", KB): httpx.Response(200, json={"documents": [], "has_more": False}),
        }
    )
    p = provider(make_client, routes, on_retry=notices.append)
    assert p.create_document(spec(DocType.TEXT, b"x"), "N") == "d9"
    assert [(n.method, n.reason, n.attempt) for n in notices] == [("POST", "HTTP 502", 2)]


def test_ambiguous_create_that_did_not_happen_is_retried(
    make_client: MakeClient,
) -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"id": "d2", "name": "n"}),
    ]

    def post(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    routes = Routes(
        {
            ("POST", f"{KB}/text"): post,
            ("GET", KB): httpx.Response(200, json={"documents": [], "has_more": False}),
        }
    )
    assert provider(make_client, routes).create_document(spec(DocType.TEXT, b"x"), "N") == "d2"
    assert len([r for r in routes.requests if r.method == "POST"]) == 2


def test_ambiguous_create_gives_up_with_the_cause(make_client: MakeClient) -> None:
    routes = Routes(
        {
            ("POST", f"{KB}/text"): httpx.Response(503, text="down"),
            ("GET", KB): httpx.Response(200, json={"documents": [], "has_more": False}),
        }
    )
    p = provider(make_client, routes, max_retries=2)
    with pytest.raises(ServerError):
        p.create_document(spec(DocType.TEXT, b"x"), "N")
    assert len([r for r in routes.requests if r.method == "POST"]) == 3


def test_find_documents_by_name_is_exact(make_client: MakeClient) -> None:
    listing = [summary("d2", "abc"), summary("d1", "abc"), summary("d3", "abcd")]
    routes = Routes({("GET", KB): paged(listing)})
    found = provider(make_client, routes).find_documents_by_name("abc")
    assert [d.id for d in found] == ["d1", "d2"]


def test_rename_and_not_found(make_client: MakeClient) -> None:
    routes = Routes({("PATCH", f"{KB}/d1"): httpx.Response(200, json=summary("d1", "new name"))})
    p = provider(make_client, routes)
    p.rename_document("d1", "new name")
    assert routes.bodies("PATCH", f"{KB}/d1") == [{"name": "new name"}]
    with pytest.raises(NotFoundError) as info:
        p.rename_document("nope", "x")
    assert info.value.summary == "Document nope not found in this workspace"


def test_ids_are_one_path_segment(make_client: MakeClient) -> None:
    routes = Routes({})
    with pytest.raises(NotFoundError):
        provider(make_client, routes).document_content("../agents/x")
    assert routes.requests[0].url.raw_path == b"/v1/convai/knowledge-base/..%2Fagents%2Fx/content"


def index(model: str, status: str, progress: float = 0.0) -> dict[str, object]:
    return {
        "id": f"ix_{model}",
        "model": model,
        "status": status,
        "progress_percentage": progress,
        "document_model_index_usage": {"used_bytes": 600},
    }


def test_index_state_picks_the_model(make_client: MakeClient) -> None:
    indexes = [index("m1", "succeeded", 100), index("m2", "quantum_entangled")]
    routes = Routes({("GET", f"{KB}/d1/rag-index"): httpx.Response(200, json={"indexes": indexes})})
    p = provider(make_client, routes)
    state = p.index_state("d1", "m1")
    assert (state.status, state.progress, state.used_bytes) == (IndexStatus.SUCCEEDED, 100, 600)
    assert p.index_state("d1", "m2").status is IndexStatus.UNKNOWN
    assert p.index_state("d1", "m3").status is IndexStatus.NOT_INDEXED


def test_index_state_empty(make_client: MakeClient) -> None:
    routes = Routes({("GET", f"{KB}/d1/rag-index"): httpx.Response(200, json={"indexes": []})})
    assert provider(make_client, routes).index_state("d1", "m").status is IndexStatus.NOT_INDEXED


def test_request_index_is_retried(make_client: MakeClient) -> None:
    answers = [httpx.Response(503, text="x"), httpx.Response(200, json=index("m1", "processing"))]
    routes = Routes({("POST", f"{KB}/d1/rag-index"): lambda request: answers.pop(0)})
    state = provider(make_client, routes).request_index("d1", "m1")
    assert state.status is IndexStatus.PROCESSING
    assert routes.bodies("POST", f"{KB}/d1/rag-index") == [{"model": "m1"}, {"model": "m1"}]


# ------------------------------------------------------------------------------------------
# Agent update


@pytest.mark.parametrize(
    ("rag", "expected"),
    [
        (None, None),
        (RagSettings(), None),
        (
            RagSettings(enabled=True, embedding_model="multilingual_e5_large_instruct"),
            {"enabled": True, "embedding_model": "multilingual_e5_large_instruct"},
        ),
    ],
)
def test_update_agent_body(
    make_client: MakeClient, rag: RagSettings | None, expected: object
) -> None:
    kb = [
        KbEntry("d1", "A", DocType.TEXT, UsageMode.AUTO),
        KbEntry("d2", "B", DocType.FILE, UsageMode.PROMPT),
    ]
    wire_kb = [
        {"type": "text", "name": "A", "id": "d1", "usage_mode": "auto"},
        {"type": "file", "name": "B", "id": "d2", "usage_mode": "prompt"},
    ]

    def patch(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["conversation_config"]["agent"]["prompt"]
        return httpx.Response(200, json=agent_body(sent["knowledge_base"], sent.get("rag")))

    routes = Routes({("PATCH", AGENT): patch})
    agent = provider(make_client, routes).update_agent("agent_1", kb, rag, "kbctl apply 1")
    prompt: dict[str, object] = {"knowledge_base": wire_kb}
    if expected is not None:
        prompt["rag"] = expected
    assert routes.bodies("PATCH", AGENT) == [
        {
            "conversation_config": {"agent": {"prompt": prompt}},
            "version_description": "kbctl apply 1",
        }
    ]
    assert agent.knowledge_base == tuple(kb)


def test_update_agent_not_found(make_client: MakeClient) -> None:
    with pytest.raises(NotFoundError) as info:
        provider(make_client, Routes({})).update_agent("agent_1", [], None, "d")
    assert info.value.summary == "Agent agent_1 not found in this workspace"


# ------------------------------------------------------------------------------------------
# Dependents and delete


def test_dependents_all_pages(make_client: MakeClient) -> None:
    pages = [
        {
            "agents": [
                {"type": "available", "id": "agent_1", "name": "A"},
                {"type": "unknown", "id": "hidden"},
            ],
            "branches": [
                {"agent_id": "agent_1", "branch_id": "b_main", "is_main": True, "agent_name": "A"}
            ],
            "has_more": True,
            "next_cursor": "p2",
        },
        {
            "agents": [{"type": "available", "id": "agent_2"}, {"type": "robot", "id": "r"}],
            "branches": [{"agent_id": "agent_2", "branch_id": "b_x"}],
            "has_more": False,
        },
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[1 if request.url.params.get("cursor") else 0])

    routes = Routes({("GET", f"{KB}/d1/dependent-agents"): answer})
    deps = provider(make_client, routes).dependents("d1")
    assert deps.agent_ids == ("agent_1", "agent_2")
    assert deps.unknown_agents == 2
    assert deps.branches == (
        BranchRef("agent_1", "b_main", True),
        BranchRef("agent_2", "b_x", False),
    )
    assert deps.others("agent_1")


def test_no_dependents(make_client: MakeClient) -> None:
    routes = Routes(
        {
            ("GET", f"{KB}/d1/dependent-agents"): httpx.Response(
                200, json={"agents": [], "has_more": False}
            )
        }
    )
    deps = provider(make_client, routes).dependents("d1")
    assert deps.agent_ids == () and not deps.others("agent_1")


def refuse(status: int, code: str = "document_in_use", message: str = "in use") -> httpx.Response:
    return httpx.Response(status, json={"detail": {"status": code, "message": message}})


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (httpx.Response(200), DeleteOutcome.DELETED),
        (httpx.Response(204), DeleteOutcome.DELETED),
        (httpx.Response(200, text="null"), DeleteOutcome.DELETED),
        (httpx.Response(200, json={"id": "d1"}), DeleteOutcome.DELETED),
        (refuse(404, "document_not_found", "gone"), DeleteOutcome.GONE),
        (refuse(400), DeleteOutcome.IN_USE),
        (refuse(409), DeleteOutcome.IN_USE),
        (refuse(412), DeleteOutcome.IN_USE),
        (refuse(423), DeleteOutcome.IN_USE),
        (refuse(418, "teapot", "Document is used by 2 agents"), DeleteOutcome.IN_USE),
        (refuse(451, "has_dependents", "no"), DeleteOutcome.IN_USE),
    ],
)
def test_delete_outcomes(
    make_client: MakeClient, answer: httpx.Response, outcome: DeleteOutcome
) -> None:
    routes = Routes({("DELETE", f"{KB}/d1"): answer})
    p = provider(make_client, routes)
    assert p.delete_document("d1") is outcome
    assert len(routes.requests) == 1
    assert "force" not in routes.requests[0].url.params


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (refuse(403, "forbidden", "no access"), PermissionDeniedError),
        (refuse(403, "forbidden", "key may not delete documents in use"), PermissionDeniedError),
        (refuse(422, "x", "y"), ApiError),
        (refuse(418, "teapot", "short and stout"), ApiError),
        (httpx.Response(500, text="boom"), ServerError),
    ],
)
def test_delete_failures_are_raised(
    make_client: MakeClient, answer: httpx.Response, error: type[ApiError]
) -> None:
    routes = Routes({("DELETE", f"{KB}/d1"): answer})
    with pytest.raises(error):
        provider(make_client, routes, max_retries=1).delete_document("d1")


def test_delete_retried_after_it_happened_reads_gone(make_client: MakeClient) -> None:
    answers = [httpx.Response(500, text="x"), refuse(404, "document_not_found", "gone")]
    routes = Routes({("DELETE", f"{KB}/d1"): lambda request: answers.pop(0)})
    assert provider(make_client, routes).delete_document("d1") is DeleteOutcome.GONE


# ------------------------------------------------------------------------------------------
# Content, quota, search


def test_content_is_raw_bytes(make_client: MakeClient) -> None:
    body = "<p>héllo</p>".encode()
    routes = Routes(
        {
            ("GET", f"{KB}/d1/content"): httpx.Response(
                200, content=body, headers={"content-type": "text/html"}
            )
        }
    )
    assert provider(make_client, routes).document_content("d1") == body


def test_quota(make_client: MakeClient) -> None:
    routes = Routes({("GET", f"{KB}/rag-index"): quota_answer()})
    quota = provider(make_client, routes).quota()
    assert (quota.used_bytes, quota.max_bytes) == (10, 100)


def test_search_pages_until_limit(make_client: MakeClient) -> None:
    results = [
        {"document": summary(f"d{i}", f"doc {i}"), "score": 1.0 - i / 10, "search_snippet": []}
        for i in range(5)
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("cursor") or 0)
        size = int(request.url.params["page_size"])
        nxt = start + size
        return httpx.Response(
            200,
            json={"results": results[start:nxt], "next_cursor": str(nxt) if nxt < 5 else None},
        )

    routes = Routes({("GET", f"{KB}/search"): answer})
    p = provider(make_client, routes)
    hits = p.search("birds", 3)
    assert [h.document_id for h in hits] == ["d0", "d1", "d2"]
    assert hits[0].name == "doc 0" and hits[0].score == pytest.approx(1.0)
    assert routes.requests[0].url.params["query"] == "birds"
    assert len(routes.requests) == 1
    assert len(p.search("birds", 100)) == 5
    assert p.search("birds", 0) == ()
