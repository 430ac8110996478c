"""`LiveState` finds documents by id with a binary search, however it was built."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kbctl.model import DocType, LiveAgent, LiveDocument, LiveState, RagSettings

AGENT = LiveAgent("agent_1", "A", None, None, (), RagSettings())


@given(st.lists(st.text("abcdefXYZ0123", min_size=1, max_size=6), unique=True, max_size=40))
def test_every_document_is_found_in_any_order(ids: list[str]) -> None:
    docs = tuple(LiveDocument(i, f"name {i}", DocType.TEXT, 10, None) for i in ids)
    live = LiveState(agent=AGENT, documents=docs)
    assert [d.id for d in live.documents] == sorted(ids)
    for doc in docs:
        assert live.document(doc.id) == doc
    assert live.document("not-there") is None
