"""Tolerant reads, precise errors: a listing cut short is a warning, an unknown quota is unknown,
and the API key in live data never comes out of the provider (emulator-backed)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from kbctl.model import DocType, RagQuota
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient

from .conftest import AGENT, EMULATOR_KEY, Rig

MakeClient = Callable[..., ApiClient]
KB = "/v1/convai/knowledge-base"
AGENT_PATH = "/v1/convai/agents/agent_1"


def agent_answer() -> httpx.Response:
    prompt: dict[str, object] = {"knowledge_base": [], "rag": {}}
    return httpx.Response(
        200, json={"agent_id": "agent_1", "conversation_config": {"agent": {"prompt": prompt}}}
    )


def doc(doc_id: str, name: str) -> dict[str, object]:
    meta = {"size_bytes": 700, "created_at_unix_secs": 10, "last_updated_at_unix_secs": 99}
    return {"id": doc_id, "name": name, "type": "text", "metadata": meta}


def fake(routes: dict[tuple[str, str], object]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = routes[(request.method, request.url.path)]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    return handler


def test_more_pages_without_a_cursor_end_the_listing_with_a_warning(
    make_client: MakeClient,
) -> None:
    routes: dict[tuple[str, str], object] = {
        ("GET", AGENT_PATH): agent_answer(),
        ("GET", KB): {"documents": [doc("d1", "a")], "has_more": True, "next_cursor": None},
        ("GET", f"{KB}/rag-index"): {"total_used_bytes": 1, "total_max_bytes": 10},
    }
    provider = ElevenLabsProvider(make_client(fake(routes)))
    state = provider.read_state("agent_1", "p", "e")
    assert state.warnings and "no cursor" in state.warnings[0] and KB in state.warnings[0]
    assert state.documents == () and state.quota == RagQuota(1, 10)


@pytest.mark.parametrize(
    "overview",
    [{"total_used_bytes": 5}, {"total_used_bytes": 5, "total_max_bytes": None}],
)
def test_an_unknown_quota_limit_is_none_never_zero(
    make_client: MakeClient, overview: dict[str, object]
) -> None:
    provider = ElevenLabsProvider(make_client(fake({("GET", f"{KB}/rag-index"): overview})))
    assert provider.quota() == RagQuota(used_bytes=5, max_bytes=None)


def test_listing_metadata_carries_creation_and_update_times(make_client: MakeClient) -> None:
    from kbctl.identity import document_name

    name = document_name("a.md", "p", "e", "0" * 64)
    routes: dict[tuple[str, str], object] = {
        ("GET", AGENT_PATH): agent_answer(),
        ("GET", KB): {"documents": [doc("d1", name)], "has_more": False},
    }
    provider = ElevenLabsProvider(make_client(fake(routes)))
    (live,) = provider.read_state("agent_1", "p", "e", with_quota=False).documents
    assert (live.created_at, live.updated_at) == (10, 99)


# ------------------------------------------------------------------------------------------
# The key in live data (issue: the key is redacted from everything)


def test_a_document_holding_the_key_is_read_without_it(rig: Rig) -> None:
    from kbctl.identity import content_hash, document_name

    name = document_name(
        f"leak-{EMULATOR_KEY}.md", "birby", "staging", content_hash(DocType.TEXT, b"x")
    )
    doc_id = rig.world.add_document("text", name, f"pasted by mistake: {EMULATOR_KEY}\n" * 40)
    rig.world.set_knowledge_base(AGENT, [{"type": "text", "name": name, "id": doc_id}])

    state = rig.provider.read_state(AGENT, "birby", "staging")
    seen = repr(state) + repr(rig.provider.get_agent(AGENT))
    content = rig.provider.document_content(doc_id)
    hits = rig.provider.search("pasted by mistake", 5)
    found = rig.provider.find_documents_by_name(name)

    assert EMULATOR_KEY not in seen and "***" in seen
    assert EMULATOR_KEY.encode() not in content and b"pasted by mistake: ***" in content
    assert hits and EMULATOR_KEY not in repr(hits)
    assert found == ()  # its live name no longer equals a name holding the key
    (live,) = state.documents
    assert live.marker is not None and live.marker.key == "leak-***.md"


def test_the_key_written_with_json_escapes_is_redacted_too(make_client: MakeClient) -> None:
    from .conftest import KEY

    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)
    body = (
        '{"documents": [{"id": "d1", "type": "text", "name": "' + escaped + '"}],'
        ' "has_more": false}'
    )
    routes: dict[tuple[str, str], object] = {
        ("GET", AGENT_PATH): agent_answer(),
        ("GET", KB): httpx.Response(200, content=body.encode()),
    }
    provider = ElevenLabsProvider(make_client(fake(routes)))
    assert [d.name for d in provider.documents.listing()] == ["***"]


def test_an_error_message_holding_the_key_is_redacted(make_client: MakeClient) -> None:
    from kbctl.errors import ApiError

    from .conftest import KEY

    answer = httpx.Response(400, json={"detail": {"status": "bad", "message": f"key {KEY} bad"}})
    provider = ElevenLabsProvider(make_client(fake({("GET", AGENT_PATH): answer})))
    with pytest.raises(ApiError) as info:
        provider.get_agent("agent_1")
    assert KEY not in str(info.value) and "key *** bad" in str(info.value)


def _paged(second: object) -> Callable[[httpx.Request], httpx.Response]:
    """A listing whose first page names a second one, answered with `second`."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == AGENT_PATH:
            return agent_answer()
        if request.url.path == f"{KB}/rag-index":
            return httpx.Response(200, json={"total_used_bytes": 1})
        if request.url.params.get("cursor"):
            return (
                second if isinstance(second, httpx.Response) else httpx.Response(200, json=second)
            )
        page = {"documents": [doc("d1", "a")], "has_more": True, "next_cursor": "c2"}
        return httpx.Response(200, json=page)

    return handler


@pytest.mark.parametrize(
    ("second", "said"),
    [
        (["not", "a", "page"], "expected an object"),
        ({"documents": [{"id": 7, "name": "b", "type": "text"}], "has_more": False}, ".id"),
    ],
    ids=["not-an-object", "misshaped-entry"],
)
def test_a_misshaped_page_fetched_ahead_is_a_protocol_error(
    make_client: MakeClient, second: object, said: str
) -> None:
    from kbctl.errors import ProtocolError

    provider = ElevenLabsProvider(make_client(_paged(second)))
    with pytest.raises(ProtocolError) as err:
        provider.read_state("agent_1", "p", "e")
    assert said in str(err.value.summary) + str(err.value.detail)


def test_the_key_in_a_page_fetched_ahead_never_comes_out(make_client: MakeClient) -> None:
    key = "sk_live_hostile_0123456789"
    escaped = "".join(f"\\u{ord(c):04x}" for c in key)
    second = httpx.Response(
        200,
        content=(
            '{"documents": [{"id": "d2", "type": "text", "name": "' + escaped + '"}],'
            '"has_more": false}'
        ).encode(),
        headers={"content-type": "application/json"},
    )
    client = make_client(_paged(second), api_key=key)
    state = ElevenLabsProvider(client).read_state("agent_1", "p", "e")
    assert key not in repr(state)
