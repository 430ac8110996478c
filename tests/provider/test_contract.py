"""The real provider and client through the real emulator (httpx.WSGITransport), on one FakeClock.

These pin behaviour end to end: call counts the plan benchmark relies on, marker filtering,
round trips of every create, no duplicates under ambiguous failures, index polling, the agent
PATCH, dependents, delete outcomes, and a correct read under injected faults and threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from kbctl.apply.extras import find_extra_copies
from kbctl.emulator import World
from kbctl.errors import AuthError, NotFoundError
from kbctl.fingerprint import live_fingerprint
from kbctl.identity import content_hash, document_name
from kbctl.model import (
    DocType,
    DocumentSpec,
    IndexStatus,
    KbEntry,
    LiveState,
    RagSettings,
    UsageMode,
)
from kbctl.provider.base import DeleteOutcome
from kbctl.provider.elevenlabs import ElevenLabsProvider

from .conftest import AGENT, EMULATOR_KEY, MODEL, Rig

KEY = EMULATOR_KEY


def name_of(key: str, text: str, project: str = "birby", env: str = "staging") -> str:
    return document_name(key, project, env, content_hash(DocType.TEXT, text.encode()))


def text_spec(key: str, text: str) -> DocumentSpec:
    data = text.encode()
    return DocumentSpec(key, DocType.TEXT, UsageMode.AUTO, data, content_hash(DocType.TEXT, data))


def attach(world: World, *doc_ids: str) -> None:
    entries: list[dict[str, object]] = []
    for doc_id in doc_ids:
        info = world.document(doc_id)
        assert info is not None
        entries.append({"type": info.doc_type, "name": info.name, "id": doc_id})
    world.set_knowledge_base(AGENT, entries)


def no_internal_errors(r: Rig) -> None:
    assert r.app.internal_errors == []


# ------------------------------------------------------------------------------------------
# read_state


def test_read_state_is_one_agent_read_the_list_pages_and_one_quota_read(rig: Rig) -> None:
    for i in range(250):
        rig.world.add_document("text", name_of(f"docs/{i:03}.md", f"t{i}"), f"t{i}" * 200)
    handbook = rig.world.add_document("text", "Handbook", "hand" * 200)
    rig.world.add_document("url", "FAQ page", url="https://example.com/faq")
    rig.world.add_document("file", "scan.pdf", b"%PDF", filename="scan.pdf")
    attach(rig.world, handbook)
    before = rig.world.total_calls

    state = rig.provider.read_state(AGENT, "birby", "staging")

    assert rig.client.calls == 1 + 3 + 1
    assert rig.world.total_calls - before == 5
    assert rig.client.route_calls == {
        "GET /v1/convai/agents/{agent_id}": 1,
        "GET /v1/convai/knowledge-base": 3,
        "GET /v1/convai/knowledge-base/rag-index": 1,
    }
    assert len(state.documents) == 251
    assert sum(d.marker is not None for d in state.documents) == 250
    assert [d.id for d in state.documents] == sorted(d.id for d in state.documents)
    assert state.document(handbook) is not None
    assert state.agent.knowledge_base == (
        KbEntry(handbook, "Handbook", DocType.TEXT, UsageMode.AUTO),
    )
    assert state.quota is not None and state.quota.max_bytes == rig.world.config.rag_quota_bytes
    no_internal_errors(rig)


def test_read_state_keeps_only_this_projects_markers_unless_attached(rig: Rig) -> None:
    """The environments of a project share its documents: another environment's concern this
    one too (read with their marker); another project's only when attached (unmanaged)."""
    w = rig.world
    ours = w.add_document("text", name_of("a.md", "a"), "a" * 600)
    other_env = w.add_document("text", name_of("a.md", "a", env="production"), "a" * 600)
    other_env_attached = w.add_document("text", name_of("b.md", "b", env="production"), "b")
    other_project = w.add_document("text", name_of("a.md", "a", project="zebra"), "a")
    other_project_attached = w.add_document("text", name_of("c.md", "c", project="zebra"), "c")
    look_alike = w.add_document("text", "a.md · kbctl:birby/staging · nothex", "x")
    attach(w, other_env_attached, other_project_attached)

    state = rig.provider.read_state(AGENT, "birby", "staging", with_quota=False)

    ids = {d.id for d in state.documents}
    assert ids == {ours, other_env, other_env_attached, other_project_attached}
    assert other_project not in ids and look_alike not in ids
    doc = state.document(ours)
    assert doc is not None and doc.marker is not None
    assert (doc.marker.key, doc.size_bytes) == ("a.md", 600)
    shared = state.document(other_env_attached)
    assert shared is not None and shared.marker is not None
    attached = state.document(other_project_attached)
    assert attached is not None and attached.marker is None
    assert rig.client.calls == 2


def test_unknown_agent_and_wrong_key(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    with pytest.raises(NotFoundError) as info:
        rig.provider.read_state("agent_nope", "birby", "staging")
    assert info.value.summary == "Agent agent_nope not found in this workspace"

    locked = make_rig(client_key="wrong-key-123", api_key="right")
    with pytest.raises(AuthError) as auth:
        locked.provider.read_state(AGENT, "birby", "staging")
    assert auth.value.summary == "API key rejected"
    assert locked.client.calls == 1
    assert "wrong-key-123" not in str(auth.value)


def test_read_state_is_right_under_faults_and_threads(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(max_concurrency=8, seed=5)
    for i in range(120):
        rig.world.add_document("text", name_of(f"k{i}", f"v{i}"), f"v{i}" * 300)
    rig.world.add_document("text", "unmanaged", "u")
    ids = [d.id for d in rig.world.documents()[:5]]
    attach(rig.world, *ids)
    expected = rig.provider.read_state(AGENT, "birby", "staging")
    rig.reconfigure(fail_rate=0.2, max_concurrency=3)

    results: list[LiveState] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def read() -> None:
        try:
            state = rig.provider.read_state(AGENT, "birby", "staging")
        except BaseException as exc:  # collected and re-checked below
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(state)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 8
    for state in results:
        assert live_fingerprint(state) == live_fingerprint(expected)
        assert state.documents == expected.documents
    assert rig.app.injected.get("fail_rate", 0) > 0
    no_internal_errors(rig)


# ------------------------------------------------------------------------------------------
# Creating


def test_create_text_url_file_round_trip(rig: Rig) -> None:
    p, w = rig.provider, rig.world
    text = "# Quarters\n\nBirby lives in quarters with naïve owls.\n" * 20
    t_name = name_of("q.md", text)
    t_id = p.create_document(text_spec("q.md", text), t_name)

    url = "https://example.com/faq"
    u_spec = DocumentSpec(
        "faq",
        DocType.URL,
        UsageMode.AUTO,
        url.encode(),
        content_hash(DocType.URL, url.encode()),
        url=url,
    )
    u_name = document_name("faq", "birby", "staging", u_spec.content_hash)
    u_id = p.create_document(u_spec, u_name)

    pdf = b"%PDF-1.7\n\x00\x01\x02binary\xff" * 50
    f_spec = DocumentSpec(
        "kb/price.pdf",
        DocType.FILE,
        UsageMode.PROMPT,
        pdf,
        content_hash(DocType.FILE, pdf),
        filename="price.pdf",
    )
    f_name = document_name("kb/price.pdf", "birby", "staging", f_spec.content_hash)
    f_id = p.create_document(f_spec, f_name)

    t_doc, u_doc, f_doc = w.document(t_id), w.document(u_id), w.document(f_id)
    assert t_doc is not None and (t_doc.doc_type, t_doc.name, t_doc.content) == (
        "text",
        t_name,
        text,
    )
    assert u_doc is not None and (u_doc.doc_type, u_doc.url, u_doc.name) == ("url", url, u_name)
    assert f_doc is not None and (f_doc.doc_type, f_doc.data, f_doc.filename) == (
        "file",
        pdf,
        "price.pdf",
    )
    assert p.document_content(t_id) == text.encode()

    state = p.read_state(AGENT, "birby", "staging")
    by_id = {d.id: d for d in state.documents}
    assert set(by_id) == {t_id, u_id, f_id}
    assert by_id[t_id].size_bytes == len(text.encode())
    assert by_id[f_id].doc_type is DocType.FILE and by_id[f_id].size_bytes == len(pdf)
    assert {d.marker.key for d in state.documents if d.marker} == {"q.md", "faq", "kb/price.pdf"}
    no_internal_errors(rig)


def test_create_whose_every_answer_was_lost_is_found_at_last(
    make_rig: Callable[..., Rig],
) -> None:
    """Every attempt writes and then answers 500: the create is tried max_retries + 1 times
    (no lookup in between), then looked for by name; the ledger names every attempt, so
    apply's reconciliation deletes the other copies."""
    rig = make_rig(fail_after_write_rate=1.0)
    name = name_of("a.md", "alpha")
    doc_id = rig.provider.create_document(text_spec("a.md", "alpha" * 200), name)
    copies = [d.id for d in rig.world.documents() if d.name == name]
    assert doc_id in copies and len(copies) == 6
    assert rig.client.route_calls["POST /v1/convai/knowledge-base/text"] == 6
    assert rig.client.route_calls["GET /v1/convai/knowledge-base"] <= 2  # the last resort
    view = rig.provider.create_ledger.take()
    assert [lost.name for lost in view.lost] == [name] * 6
    assert [a.doc_id for a in view.answered] == [doc_id]
    rig.reconfigure(fail_after_write_rate=0.0)
    extra = find_extra_copies(rig.provider, view, protected=())
    assert sorted(d.id for d in extra) == sorted(set(copies) - {doc_id})


def test_creates_under_random_faults_leave_only_ledgered_copies(
    make_rig: Callable[..., Rig],
) -> None:
    """Lost answers before and after the write: every name ends with its kept id, and every
    other copy is found by the reconciliation (the one that runs in apply) and nothing else."""
    rig = make_rig(fail_rate=0.25, fail_after_write_rate=0.25, seed=11, max_retries=10)
    bystander = rig.world.add_document("text", name_of("z.md", "other"), "z" * 600)
    made: dict[str, str] = {}
    for i in range(40):
        name = name_of(f"d{i}.md", f"body {i}")
        made[name] = rig.provider.create_document(text_spec(f"d{i}.md", f"body {i}"), name)
    view = rig.provider.create_ledger.take()
    assert view.lost and {a.name: a.doc_id for a in view.answered} == made
    rig.reconfigure(fail_rate=0.0, fail_after_write_rate=0.0)
    extra = find_extra_copies(rig.provider, view, protected=())
    assert bystander not in {d.id for d in extra}
    assert not {d.id for d in extra} & set(made.values())
    for doc in extra:
        assert rig.provider.delete_document(doc.id) is DeleteOutcome.DELETED
    by_name = {d.name: d.id for d in rig.world.documents() if d.id != bystander}
    assert by_name == made  # each exactly once, the id kbctl kept
    assert len(rig.world.documents()) == len(made) + 1
    assert rig.app.injected.get("fail_after_write_rate", 0) > 0
    assert rig.app.injected.get("fail_rate", 0) > 0
    no_internal_errors(rig)


def test_finding_extra_copies_costs_the_same_in_a_large_workspace(
    make_rig: Callable[..., Rig],
) -> None:
    """A 500 after the write, in a workspace of 600 documents (6 pages): the copy is found by
    one name search, newest first, without paging through the workspace."""
    rig = make_rig(max_retries=1)
    for i in range(600):
        rig.world.add_document("text", f"filler {i:03}", f"f{i}" * 200)
    kept = rig.provider.create_document(text_spec("early.md", "early"), name_of("early.md", "e"))
    rig.reconfigure(fail_after_write_rate=1.0)  # both attempts land, both answers are lost
    name = name_of("late.md", "late body")
    doc_id = rig.provider.create_document(text_spec("late.md", "late body"), name)
    rig.reconfigure(fail_after_write_rate=0.0)
    view = rig.provider.create_ledger.take()
    assert len(view.lost) == 2
    lists = rig.client.route_calls["GET /v1/convai/knowledge-base"]
    extra = find_extra_copies(rig.provider, view, protected=(kept,))
    assert rig.client.route_calls["GET /v1/convai/knowledge-base"] - lists == 1
    copies = {d.id for d in rig.world.documents() if d.name == name}
    assert {d.id for d in extra} == copies - {doc_id}
    no_internal_errors(rig)


def test_document_url(rig: Rig) -> None:
    url = "https://example.com/faq"
    faq = rig.world.add_document("url", "FAQ", url=url)
    text = rig.world.add_document("text", "T", "t")
    assert rig.provider.document_url(faq) == url
    assert rig.provider.document_url(text) is None
    with pytest.raises(NotFoundError):
        rig.provider.document_url("missing")


def test_find_documents_by_name(rig: Rig) -> None:
    a = rig.world.add_document("text", "Shared", "1")
    b = rig.world.add_document("text", "Shared", "2")
    rig.world.add_document("text", "Shared plus", "3")
    rig.world.add_document("text", "shared", "4")
    found = rig.provider.find_documents_by_name("Shared")
    assert [d.id for d in found] == sorted([a, b])
    assert rig.provider.find_documents_by_name("Nothing") == ()


def test_rename(rig: Rig) -> None:
    doc = rig.world.add_document("text", "Old", "x")
    rig.provider.rename_document(doc, "New")
    info = rig.world.document(doc)
    assert info is not None and info.name == "New"
    with pytest.raises(NotFoundError):
        rig.provider.rename_document("missing", "x")


# ------------------------------------------------------------------------------------------
# Indexing and quota


def test_index_request_then_poll_to_succeeded(rig: Rig) -> None:
    p = rig.provider
    doc = p.create_document(text_spec("big.md", "birds " * 200), name_of("big.md", "birds"))
    small = p.create_document(text_spec("tiny.md", "tiny"), name_of("tiny.md", "tiny"))
    assert p.index_state(doc, MODEL).status is IndexStatus.NOT_INDEXED

    first = p.request_index(doc, MODEL)
    assert first.status.in_flight or first.status is IndexStatus.SUCCEEDED
    state = first
    for _ in range(100):
        if not state.status.in_flight:
            break
        rig.clock.sleep(0.5)
        state = p.index_state(doc, MODEL)
    assert state.status is IndexStatus.SUCCEEDED
    assert state.used_bytes == 1200
    assert p.request_index(doc, MODEL).status is IndexStatus.SUCCEEDED  # get-or-create
    assert p.index_state(doc, "multilingual_e5_large_instruct").status is IndexStatus.NOT_INDEXED

    assert p.request_index(small, MODEL).status is IndexStatus.DOCUMENT_TOO_SMALL
    quota = p.quota()
    assert quota.used_bytes == 1200
    assert quota.max_bytes == rig.world.config.rag_quota_bytes


def test_index_failure_is_reported(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(fail_index_containing=("POISON",))
    p = rig.provider
    doc = p.create_document(text_spec("p.md", "POISON " * 100), name_of("p.md", "POISON"))
    p.request_index(doc, MODEL)
    rig.clock.sleep(600)
    assert p.index_state(doc, MODEL).status is IndexStatus.FAILED


# ------------------------------------------------------------------------------------------
# Agent


def test_update_agent_replaces_the_array_and_sets_rag(rig: Rig) -> None:
    w, p = rig.world, rig.provider
    a, b, c = (w.add_document("text", n, n * 300) for n in ("A", "B", "C"))
    attach(w, a, b)
    versions = w.agent(AGENT).version_count  # type: ignore[union-attr]
    entries = [
        KbEntry(b, "B", DocType.TEXT, UsageMode.PROMPT),
        KbEntry(c, "C", DocType.TEXT, UsageMode.AUTO),
    ]
    rag = RagSettings(enabled=True, embedding_model="multilingual_e5_large_instruct")
    agent = p.update_agent(AGENT, entries, rag, "kbctl: test")

    assert agent.knowledge_base == tuple(entries)
    assert agent.rag.enabled is True
    assert agent.rag.embedding_model == "multilingual_e5_large_instruct"
    info = w.agent(AGENT)
    assert info is not None
    assert [e["id"] for e in info.knowledge_base] == [b, c]
    assert info.version_count == versions + 1
    assert agent.version_id == info.version_id
    assert p.get_agent(AGENT) == agent

    cleared = p.update_agent(AGENT, [], None, "kbctl: clear")
    assert cleared.knowledge_base == ()
    assert cleared.rag.enabled is True  # rag untouched when not managed


def test_update_agent_unknown_agent(rig: Rig) -> None:
    with pytest.raises(NotFoundError) as info:
        rig.provider.update_agent("agent_nope", [], None, "d")
    assert "agent_nope not found in this workspace" in info.value.summary


# ------------------------------------------------------------------------------------------
# Dependents and delete


def test_dependents(rig: Rig) -> None:
    w, p = rig.world, rig.provider
    doc = w.add_document("text", "D", "d" * 600)
    assert p.dependents(doc).agent_ids == ()
    attach(w, doc)
    deps = p.dependents(doc)
    assert deps.agent_ids == (AGENT,)
    assert not deps.others(AGENT)
    assert [(b.agent_id, b.is_main) for b in deps.branches] == [(AGENT, True)]
    w.create_agent("agent_other")
    w.set_knowledge_base("agent_other", [{"type": "text", "name": "D", "id": doc}])
    deps = p.dependents(doc)
    assert set(deps.agent_ids) == {AGENT, "agent_other"}
    assert deps.others(AGENT)


def test_dependents_paginate(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    rig.provider = ElevenLabsProvider(rig.client, page_size=2)
    doc = rig.world.add_document("text", "D", "d")
    for i in range(5):
        rig.world.create_agent(f"agent_{i}")
        rig.world.set_knowledge_base(f"agent_{i}", [{"type": "text", "name": "D", "id": doc}])
    deps = rig.provider.dependents(doc)
    assert sorted(deps.agent_ids) == [f"agent_{i}" for i in range(5)]
    assert rig.client.route_calls["GET /v1/convai/knowledge-base/{id}/dependent-agents"] == 3


@pytest.mark.parametrize("status", [400, 409, 412, 423])
def test_delete_in_use_then_deleted_then_gone(make_rig: Callable[..., Rig], status: int) -> None:
    rig = make_rig(delete_in_use_status=status)
    w, p = rig.world, rig.provider
    doc = w.add_document("text", "D", "d" * 600)
    attach(w, doc)
    assert p.delete_document(doc) is DeleteOutcome.IN_USE
    assert w.document(doc) is not None
    assert rig.client.route_calls["DELETE /v1/convai/knowledge-base/{id}"] == 1  # not retried
    attach(w)
    assert p.delete_document(doc) is DeleteOutcome.DELETED
    assert w.document(doc) is None
    assert p.delete_document(doc) is DeleteOutcome.GONE
    assert AGENT in {a.agent_id for a in w.agents()}  # never forced: the agent is untouched


def test_delete_that_failed_after_writing_reads_gone(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(fail_after_write_rate=1.0)
    doc = rig.world.add_document("text", "D", "d")
    assert rig.provider.delete_document(doc) in (DeleteOutcome.DELETED, DeleteOutcome.GONE)
    assert rig.world.document(doc) is None


# ------------------------------------------------------------------------------------------
# Content and search


def test_content_and_search(rig: Rig) -> None:
    p = rig.provider
    owls = p.create_document(
        text_spec("owls.md", "Owls hunt at night in the quarters.\n" * 20), name_of("owls", "o")
    )
    p.create_document(
        text_spec("cats.md", "Cats sleep all day by the fire.\n" * 20), name_of("cats", "c")
    )
    assert p.document_content(owls) == ("Owls hunt at night in the quarters.\n" * 20).encode()
    hits = p.search("owls night", 3)
    assert hits and hits[0].document_id == owls
    assert hits[0].score > 0
    assert len(p.search("the", 1)) == 1
    with pytest.raises(NotFoundError):
        p.document_content("missing")


# ------------------------------------------------------------------------------------------
# What apply's lease needs: folders, names by prefix, version descriptions


def test_create_folder_and_find_it_by_prefix(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(fail_after_write_rate=1.0)  # the answer is lost after the write
    folder = rig.provider.create_folder("kbctl-lease · agent_test · 1")
    rig.reconfigure(fail_after_write_rate=0.0)
    rig.world.add_document("text", "kbctl-lease · other", "x" * 600)
    named = rig.provider.documents_named("kbctl-lease · agent_test · ")
    assert [(d.id, d.doc_type) for d in named] == [(folder, DocType.FOLDER)]
    assert [d.id for d in rig.world.documents() if d.name.startswith("kbctl-lease")].count(
        folder
    ) == 1
    no_internal_errors(rig)


def test_version_description_round_trip(rig: Rig) -> None:
    agent = rig.provider.update_agent(AGENT, [], None, "kbctl apply run-42")
    assert agent.version_id is not None
    assert rig.provider.version_description(AGENT, agent.version_id) == "kbctl apply run-42"


def test_index_reads_of_an_unknown_document_are_not_found(rig: Rig) -> None:
    for read in (rig.provider.index_state, rig.provider.request_index):
        with pytest.raises(NotFoundError) as info:
            read("no_such_doc", MODEL)
        assert info.value.summary == "Document no_such_doc not found in this workspace"


def test_a_protected_branch_is_a_permission_error_not_a_bad_key(
    make_rig: Callable[..., Rig],
) -> None:
    from kbctl.errors import PermissionDeniedError

    rig = make_rig(protect_main=True)
    with pytest.raises(PermissionDeniedError) as info:
        rig.provider.update_agent(AGENT, [], None, "kbctl apply")
    err = info.value
    assert not isinstance(err, AuthError)
    assert (err.status, err.code) == (403, "admin_perms_required")
    assert err.summary == f"Permission denied: PATCH /v1/convai/agents/{AGENT}"
    assert "protected branch" in (err.hint or "")
    assert rig.client.route_calls["PATCH /v1/convai/agents/{agent_id}"] == 1  # not retried
