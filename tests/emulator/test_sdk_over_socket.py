"""The official `elevenlabs` SDK, unchanged, against `kbctl emulator serve` on 127.0.0.1.

Every response the SDK receives is also validated strictly against the SDK's own pydantic model
(the SDK itself only constructs models leniently, so a wrong shape would otherwise slip by).
"""

from __future__ import annotations

import time
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError

from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorConfig, EmulatorServer, build_app
from tests.emulator.conftest import LONG_TEXT, strict

AGENT = "agent_sdk"
E5 = "e5_mistral_7b_instruct"
T = typing.TypeVar("T")


class Recorder:
    """Keeps the last response the SDK received (an httpx response hook)."""

    def __init__(self) -> None:
        self.last: httpx.Response | None = None

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        assert response.url.host == "127.0.0.1"
        self.last = response


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(index_seconds=0.3, api_key="sdk-key")
    with EmulatorServer(
        build_app(config, SystemClock(), tmp_path / "state", [AGENT]), port=0
    ) as srv:
        yield srv


@pytest.fixture
def sdk(server: EmulatorServer) -> Iterator[tuple[ElevenLabs, Recorder]]:
    recorder = Recorder()
    http = httpx.Client(timeout=10, event_hooks={"response": [recorder]})
    yield ElevenLabs(api_key="sdk-key", base_url=server.url, httpx_client=http), recorder
    http.close()
    assert server.app.internal_errors == []


def checked(recorder: Recorder, method: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Call an SDK method and validate the raw answer against its declared return type."""
    result = method(*args, **kwargs)
    hints = typing.get_type_hints(method)
    declared = hints.get("return")
    assert recorder.last is not None
    if declared not in (None, typing.Any, str, type(None)):
        strict(declared, recorder.last.json())
    return result


def test_sdk_round_trip(sdk: tuple[ElevenLabs, Recorder], server: EmulatorServer) -> None:
    client, rec = sdk
    kb = client.conversational_ai.knowledge_base
    docs = kb.documents
    ca = client.conversational_ai

    created = checked(rec, docs.create_from_text, text=LONG_TEXT, name="house rules")
    doc_id = created.id
    assert created.name == "house rules"
    detail = checked(rec, docs.get, doc_id)
    assert detail.type == "text" and detail.extracted_inner_html == LONG_TEXT

    # index, then poll until succeeded (real time, a few hundred milliseconds)
    index = checked(rec, kb.document.compute_rag_index, doc_id, model=E5)
    assert index.status in ("created", "processing")
    deadline = time.monotonic() + 10
    while index.status != "succeeded":
        assert time.monotonic() < deadline, index
        time.sleep(0.05)
        index = checked(rec, kb.document.compute_rag_index, doc_id, model=E5)
    assert index.document_model_index_usage.used_bytes == len(LONG_TEXT.encode())
    listed = checked(rec, ca.get_document_rag_indexes, doc_id)
    assert [i.status for i in listed.indexes] == ["succeeded"]
    overview = checked(rec, ca.rag_index_overview)
    assert overview.total_used_bytes == len(LONG_TEXT.encode())

    # attach through agents.update
    agent = checked(rec, ca.agents.get, AGENT)
    before_version = agent.version_id
    updated = checked(
        rec,
        ca.agents.update,
        AGENT,
        conversation_config={
            "agent": {
                "prompt": {
                    "knowledge_base": [
                        {"type": "text", "name": "house rules", "id": doc_id, "usage_mode": "auto"}
                    ],
                    "rag": {"enabled": True, "embedding_model": E5},
                }
            }
        },
    )
    assert updated.version_id != before_version
    prompt = updated.conversation_config.agent.prompt
    assert [e.id for e in prompt.knowledge_base] == [doc_id]
    assert prompt.rag.enabled is True
    size = checked(rec, ca.agents.knowledge_base.size, AGENT)
    assert size.number_of_pages > 0
    dependents = checked(rec, docs.get_agents, doc_id)
    assert [a.id for a in dependents.agents] == [AGENT]

    # list and page through documents
    more = [
        checked(rec, docs.create_from_text, text=f"note {i}", name=f"n{i}").id for i in range(4)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        page = checked(rec, kb.list, page_size=2, cursor=cursor)
        seen += [d.id for d in page.documents]
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted([doc_id, *more])
    text_only = checked(rec, kb.list, types=["text"], search="n")
    assert {d.id for d in text_only.documents} == set(more)

    # content, update, search, summaries, batch indexes
    assert docs.get_content(doc_id) == LONG_TEXT
    renamed = checked(rec, docs.update, more[0], name="renamed", content="new body")
    assert renamed.name == "renamed"
    assert docs.get_content(more[0]) == "new body"
    found = checked(rec, kb.search, query="breakfast garden")
    assert found.results[0].document.id == doc_id
    summaries = checked(rec, docs.summaries.get, document_ids=[doc_id, "ghost"])
    assert summaries[doc_id].status == "success" and summaries["ghost"].status == "failure"
    batch = checked(
        rec,
        kb.get_or_create_rag_indexes,
        items=[{"document_id": more[1], "create_if_missing": True, "model": E5}],
    )
    assert batch[more[1]].status == "success"

    # delete: refused while in use (no SDK retries for this one), then forced
    with pytest.raises(ApiError) as refused:
        docs.delete(doc_id, request_options={"max_retries": 0})
    assert refused.value.status_code == 409
    assert refused.value.body["detail"]["status"] == "document_in_use"
    assert docs.delete(doc_id, force=True) is None
    after = checked(rec, ca.agents.get, AGENT)
    assert after.conversation_config.agent.prompt.knowledge_base == []
    with pytest.raises(ApiError) as missing:
        docs.get(doc_id)
    assert missing.value.status_code == 404
    deleted = checked(rec, docs.bulk_delete, document_ids=more)
    assert all(v.status == "success" for v in deleted.values())


def test_sdk_other_creates_and_agents(sdk: tuple[ElevenLabs, Recorder]) -> None:
    client, rec = sdk
    docs = client.conversational_ai.knowledge_base.documents
    agents = client.conversational_ai.agents
    url_doc = checked(rec, docs.create_from_url, url="https://example.com/faq")
    file_doc = checked(rec, docs.create_from_file, file=("faq.txt", b"Q: A?\nA: yes"), name="FAQ")
    folder = checked(rec, docs.create_folder, name="Folder")
    assert checked(rec, docs.get, url_doc.id).type == "url"
    assert checked(rec, docs.get, file_doc.id).filename == "faq.txt"
    assert checked(rec, docs.get, folder.id).type == "folder"
    assert docs.get_content(file_doc.id) == "Q: A?\nA: yes"
    created = checked(
        rec, agents.create, conversation_config={"agent": {"prompt": {"prompt": "hi"}}}, name="New"
    )
    got = checked(rec, agents.get, created.agent_id)
    assert got.name == "New"
    listing = checked(rec, agents.list, page_size=1)
    assert listing.has_more is True
    summary = checked(rec, agents.summaries.get, agent_ids=[created.agent_id])
    assert summary[created.agent_id].status == "success"
    chunks = client.conversational_ai.knowledge_base.documents.chunks
    with pytest.raises(ApiError):
        chunks.list(url_doc.id, embedding_model=E5, request_options={"max_retries": 0})


def test_sdk_auth_failure(server: EmulatorServer) -> None:
    client = ElevenLabs(api_key="wrong", base_url=server.url)
    with pytest.raises(ApiError) as err:
        client.conversational_ai.knowledge_base.list()
    assert err.value.status_code == 401
    assert err.value.body["detail"]["status"] == "invalid_api_key"


def test_server_saves_state_on_stop(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = EmulatorConfig(index_seconds=0)
    with EmulatorServer(build_app(config, SystemClock(), state, ["agent_x"]), port=0) as srv:
        r = httpx.post(
            f"{srv.url}/v1/convai/knowledge-base/text",
            json={"text": "persisted"},
            headers={"xi-api-key": "k"},
        )
        doc_id = r.json()["id"]
    with EmulatorServer(build_app(config, SystemClock(), state), port=0) as srv:
        r = httpx.get(
            f"{srv.url}/v1/convai/knowledge-base/{doc_id}/content", headers={"xi-api-key": "k"}
        )
        assert r.text == "persisted"
        assert (
            httpx.get(
                f"{srv.url}/v1/convai/agents/agent_x", headers={"xi-api-key": "k"}
            ).status_code
            == 200
        )
    assert (state / "journal.jsonl").read_text() == ""
