"""`observe` starts the reads that need only the agent while the documents are listed.

A provider that holds `read_state` open until those reads have begun proves the overlap
deterministically: without it, `read_state` would wait out its timeout and the test fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from kbctl.model import LiveAgent, LiveState
from kbctl.observe import observe
from kbctl.provider.base import Dependents, IndexState
from kbctl.provider.elevenlabs import ElevenLabsProvider
from tests.sharing.test_promote import write
from tests.snapshots.kit import PRODUCTION_AGENT, Bench, text_of

WAIT = 10.0  # seconds a missing overlap costs before the test fails (never reached when it works)


class Overlapping(ElevenLabsProvider):
    """The real provider, whose `read_state` returns only once the index and users reads it
    should have caused (from `on_agent`) have started, or `WAIT` seconds passed."""

    def __init__(self, bench: Bench) -> None:
        super().__init__(bench.new_client())
        self.indexes_started = threading.Event()
        self.users_started = threading.Event()
        self.during_listing: list[str] = []
        self._listing = False

    def read_state(
        self,
        agent_id: str,
        project: str,
        environment: str,
        *,
        with_quota: bool = True,
        on_agent: Callable[[LiveAgent], None] | None = None,
    ) -> LiveState:
        self._listing = True
        live = super().read_state(
            agent_id, project, environment, with_quota=with_quota, on_agent=on_agent
        )
        self.indexes_started.wait(WAIT)
        self.users_started.wait(WAIT)
        self._listing = False
        return live

    def index_states(self, doc_ids: Iterable[str], model: str) -> dict[str, IndexState]:
        if self._listing:
            self.during_listing.append("indexes")
        self.indexes_started.set()
        return super().index_states(doc_ids, model)

    def dependents(self, doc_id: str) -> Dependents:
        if self._listing:
            self.during_listing.append(f"users of {doc_id}")
        self.users_started.set()
        return super().dependents(doc_id)


def test_indexes_and_other_users_are_read_while_the_documents_are_listed(bench: Bench) -> None:
    write(bench)
    out = bench.run("apply", "-e", "production", "--auto-approve")
    assert out.exit_code == 0, out.output
    dropped = next(e.id for e in bench.entries(PRODUCTION_AGENT) if e.key == "docs/c.md")
    bench.write("manifests/docs/c.md", text_of("c v2"))  # production's c is to be replaced
    provider = Overlapping(bench)

    live = observe(bench.target("production"), provider)

    assert "indexes" in provider.during_listing
    assert f"users of {dropped}" in provider.during_listing
    attached = {e.id for e in live.agent.knowledge_base}
    assert {h.doc_id for h in live.indexes} == attached  # every attached one, read once
    assert live.shared == ()  # nobody else uses c: read, and found alone
