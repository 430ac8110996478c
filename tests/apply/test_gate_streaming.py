"""The index gate polls while the uploads still go on: an early document is seen indexed (or
failed) before the last upload, not after it.

Uploads are made slow with the emulator's latency (on the real clock, so the gate's poller and
the upload worker truly overlap) and run one at a time; the run's order of events tells when the
gate polled. Nothing asserts on durations.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kbctl.apply.events import DocumentCreated, IndexProgress, Phase, PhaseStarted
from kbctl.apply.types import Outcome
from kbctl.errors import IndexGateError
from kbctl.model import IndexStatus
from kbctl.plan.planner import plan_target
from tests.apply.conftest import docs, text_doc
from tests.apply.realtime import RealRig, real_rig

CREATE_TEXT = "POST /v1/convai/knowledge-base/text"


@pytest.fixture
def slow_uploads() -> Iterator[RealRig]:
    """Each request takes 150 ms; an index 100 ms; one request in flight at a time."""
    rig = real_rig(client_concurrency=1, latency_ms=150, index_seconds=0.1)
    yield rig
    rig.close()


def test_an_early_index_is_seen_ready_before_the_last_upload(slow_uploads: RealRig) -> None:
    rig = slow_uploads
    target = rig.target(docs(6))
    result = rig.apply(target, concurrency=1)
    assert result.outcome is Outcome.APPLIED
    events = rig.events.events
    ready = [
        n
        for n, e in enumerate(events)
        if isinstance(e, IndexProgress) and e.status is IndexStatus.SUCCEEDED
    ]
    created = [n for n, e in enumerate(events) if isinstance(e, DocumentCreated)]
    assert len(created) == 6
    assert ready and ready[0] < created[-1], rig.events.names()
    # ... so before the gate's own phase began: it did not wait for the uploads.
    index_phase = next(
        n for n, e in enumerate(events) if isinstance(e, PhaseStarted) and e.phase is Phase.INDEX
    )
    assert ready[0] < index_phase
    live = rig.provider.read_state(target.agent_id, target.project, target.environment)
    assert not plan_target(target, live).has_changes


def test_a_failure_seen_while_uploading_stops_the_uploads_not_yet_started() -> None:
    rig = real_rig(
        client_concurrency=1,
        latency_ms=150,
        index_seconds=0.1,
        fail_index_containing=("CORRUPT",),
    )
    try:
        bad = text_doc("quarters/aaa-bad.md", "CORRUPT " * 100)
        target = rig.target((bad, *docs(9)))
        with pytest.raises(IndexGateError) as info:
            rig.apply(target, concurrency=1)
        assert "quarters/aaa-bad.md: failed" in (info.value.detail or "")
        # The failure was seen after a few uploads, and the rest were never made.
        assert rig.world.calls[CREATE_TEXT] < 10
        agent = rig.world.agent("agent_1")
        assert agent is not None and not agent.knowledge_base
        assert [d for d in rig.world.documents() if d.name.startswith("quarters/")] == []
    finally:
        rig.close()
