"""A misshaped API answer is a `ProtocolError` whose detail names the request, the field's whole
path in the answer and what the field held."""

from __future__ import annotations

import httpx
import pytest

from kbctl.errors import ProtocolError
from kbctl.provider.openai import shapes as openai_shapes
from tests.provider.conftest import MODEL
from tests.provider.test_elevenlabs import (
    AGENT,
    KB,
    MakeClient,
    Routes,
    agent_body,
    mine,
    paged,
    provider,
    quota_answer,
    summary,
)
from tests.provider.test_indexes_batch import batch_provider, index_json


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            agent_body([], {"max_vector_distance": "far"}),
            "agent.conversation_config.agent.prompt.rag.max_vector_distance: "
            "expected a number, got 'far'",
        ),
        (
            agent_body([{"type": "text", "name": "a", "id": 7}]),
            "agent.conversation_config.agent.prompt.knowledge_base[0].id: "
            "expected a string, got a number",
        ),
        (
            {"agent_id": "agent_1", "conversation_config": {"agent": []}},
            "agent.conversation_config.agent: expected an object, got a list",
        ),
    ],
)
def test_a_misshaped_agent_answer_names_the_field(
    make_client: MakeClient, body: object, detail: str
) -> None:
    routes = Routes({("GET", AGENT): httpx.Response(200, json=body)})
    with pytest.raises(ProtocolError) as info:
        provider(make_client, routes).get_agent("agent_1")
    assert info.value.detail == f"GET {AGENT}: {detail}"


def test_a_misshaped_listing_entry_names_the_field(make_client: MakeClient) -> None:
    broken = summary("d2", "b")
    broken["metadata"] = {"size_bytes": 1.5}
    routes = Routes(
        {
            ("GET", AGENT): httpx.Response(200, json=agent_body()),
            ("GET", KB): paged([summary("d1", "a"), broken], size=5),
            ("GET", f"{KB}/rag-index"): quota_answer(),
        }
    )
    with pytest.raises(ProtocolError) as info:
        provider(make_client, routes).read_state("agent_1", "birby", "staging")
    assert "page.documents[1].metadata.size_bytes: expected an integer, got 1.5" in (
        info.value.detail or ""
    )


def test_an_integral_float_is_an_integer_on_the_wire(make_client: MakeClient) -> None:
    listing = [summary("d1", mine("a.md"))]
    listing[0]["metadata"] = {"size_bytes": 600.0}
    routes = Routes(
        {
            ("GET", AGENT): httpx.Response(200, json=agent_body()),
            ("GET", KB): paged(listing),
            ("GET", f"{KB}/rag-index"): quota_answer(),
        }
    )
    state = provider(make_client, routes).read_state("agent_1", "birby", "staging")
    assert [d.size_bytes for d in state.documents] == [600]


def test_a_misshaped_batch_index_item_names_the_document(make_client: MakeClient) -> None:
    answer = {
        "d1": {
            "status": "success",
            "data": {**index_json("succeeded"), "progress_percentage": True},
        }
    }
    provider_, _ = batch_provider(make_client, lambda r: httpx.Response(200, json=answer))
    with pytest.raises(ProtocolError) as info:
        provider_.index_states(["d1"], MODEL)
    assert "answer.d1.data.progress_percentage: expected a number, got a boolean" in (
        info.value.detail or ""
    )


def test_a_misshaped_openai_attribute_names_the_key() -> None:
    body = {"id": "file-1", "attributes": {"kbctl_key": "a.md", "team name": ["x"]}}
    with (
        pytest.raises(ProtocolError) as info,
        openai_shapes.reading("GET", "/vector_stores/vs/files/file-1"),
    ):
        openai_shapes.store_file(body, "answer")
    assert info.value.summary == "The OpenAI API sent an answer kbctl cannot read"
    assert info.value.detail == (
        'GET /vector_stores/vs/files/file-1: answer.attributes["team name"]: '
        "expected a string, number or boolean, got a list"
    )
    assert "Nothing more was written" in (info.value.hint or "")
