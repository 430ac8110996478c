"""Fixtures for apply: an emulated workspace on a FakeClock, reached through the real provider.

`Workspace` bundles the clock, the emulator's `World` and an `ElevenLabsProvider` over
`ApiClient(transport=httpx.WSGITransport(app=EmulatorApp(world)))`, plus the helpers every
test uses: build a target,
plan it, apply it, and check that the workspace converged to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import pytest

from kbctl.apply import ApplyOptions, ApplyResult, RecordingEvents, apply_agent_plan
from kbctl.apply.events import EventSink
from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.identity import canonical_text, content_hash
from kbctl.model import (
    DocType,
    DocumentSpec,
    IndexStatus,
    LiveState,
    Policy,
    RagSettings,
    SmallDocumentPolicy,
    Target,
    UsageMode,
)
from kbctl.plan.planner import plan_target
from kbctl.plan.types import AgentPlan
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient
from tests.harness import Emulated, emulate

AGENT = "agent_1"
PROJECT = "birby"
ENV = "local"
MODEL = "multilingual_e5_large_instruct"
FILLER = "Flats from 45 to 120 m², parking, schools and parks nearby. " * 12  # > 500 bytes


def text_doc(key: str, body: str = "", *, mode: UsageMode = UsageMode.AUTO) -> DocumentSpec:
    """A text document; `body` defaults to a unique text large enough to index."""
    content = canonical_text(body or f"# {key}\n\n{FILLER}")
    return DocumentSpec(key, DocType.TEXT, mode, content, content_hash(DocType.TEXT, content))


def docs(n: int, prefix: str = "quarters/q", *, version: int = 0) -> tuple[DocumentSpec, ...]:
    """`n` indexable documents `quarters/q000.md`…; `version` changes every content."""
    return tuple(
        text_doc(f"{prefix}{i:03d}.md", f"# {prefix}{i:03d} v{version}\n\n{FILLER}")
        for i in range(n)
    )


@dataclass
class Workspace:
    """An emulated workspace and the real provider in front of it."""

    clock: FakeClock
    world: World
    provider: ElevenLabsProvider
    client: ApiClient
    app: EmulatorApp
    agent_id: str = AGENT
    runs: list[RecordingEvents] = field(default_factory=list)

    def target(
        self,
        documents: Iterable[DocumentSpec],
        *,
        small: SmallDocumentPolicy = SmallDocumentPolicy.PROMPT,
        max_deletes: int = 10,
        index_timeout: float = 180.0,
        protect: bool = False,
        agent_id: str | None = None,
    ) -> Target:
        """A resolved target for this workspace's agent."""
        return Target(
            manifest="manifests/kb.yaml",
            project=PROJECT,
            environment=ENV,
            agent_id=agent_id or self.agent_id,
            base_url="emulator://unused",
            api_key_env="ELEVENLABS_API_KEY",
            protect=protect,
            rag=RagSettings(enabled=True, embedding_model=MODEL),
            policy=Policy(
                index_timeout=index_timeout, small_documents=small, max_deletes=max_deletes
            ),
            documents=tuple(documents),
        )

    def live(self, target: Target) -> LiveState:
        """The live state of `target`'s agent."""
        return self.provider.read_state(target.agent_id, target.project, target.environment)

    def plan(self, target: Target) -> AgentPlan:
        """A fresh plan for `target`."""
        return plan_target(target, self.live(target))

    def apply(
        self,
        target: Target,
        *,
        allow_destroy: bool = False,
        concurrency: int = 4,
        events: EventSink | None = None,
        plan: AgentPlan | None = None,
    ) -> ApplyResult:
        """Plan `target` and apply it; the events are kept in `self.runs`."""
        recorder = RecordingEvents()
        self.runs.append(recorder)
        return apply_agent_plan(
            plan or self.plan(target),
            target,
            self.provider,
            self.clock,
            events=events or recorder,
            options=ApplyOptions(allow_destroy=allow_destroy, concurrency=concurrency),
        )

    @property
    def events(self) -> RecordingEvents:
        """The events of the last apply."""
        return self.runs[-1]

    def calls(self, route: str) -> int:
        """How many requests the emulator served on `route` (e.g. `POST …/text`)."""
        return self.world.calls[route]

    def agent_ids(self, agent_id: str | None = None) -> list[str]:
        """The ids in the agent's knowledge_base, in order."""
        agent = self.world.agent(agent_id or self.agent_id)
        assert agent is not None
        return [str(e["id"]) for e in agent.knowledge_base]

    def assert_converged(self, target: Target) -> None:
        """The agent matches `target`; every attached auto document is indexed; no managed
        orphan or duplicate is left; re-planning finds nothing to do. (Checked with the
        emulator's injected faults switched off.)"""
        faulty = self.world.config
        self.world.config = replace(
            faulty, fail_rate=0.0, fail_after_write_rate=0.0, max_concurrency=None
        )
        try:
            self._check_converged(target)
        finally:
            self.world.config = faulty

    def _check_converged(self, target: Target) -> None:
        live = self.live(target)
        plan = plan_target(target, live)
        assert not plan.has_changes, plan
        entries = live.agent.knowledge_base
        ids = [e.id for e in entries]
        assert len(ids) == len(set(ids)), f"duplicate ids: {ids}"
        managed = {d.id: d for d in live.documents if d.marker is not None}
        keys = Counter(managed[e.id].marker.key for e in entries if e.id in managed)  # type: ignore[union-attr]
        assert all(n == 1 for n in keys.values()), f"duplicate keys: {keys}"
        wanted = {s.key: s.content_hash[:12] for s in target.documents}
        for e in entries:
            doc = managed.get(e.id)
            if doc is None:
                continue
            assert doc.marker is not None
            assert wanted.get(doc.marker.key) == doc.marker.hash12, doc
            if e.usage_mode is UsageMode.AUTO:
                state = self.provider.index_state(e.id, MODEL)
                assert state.status is IndexStatus.SUCCEEDED, (e, state)
        orphans = [d for d in managed.values() if d.id not in set(ids)]
        assert not orphans, f"managed orphans left: {orphans}"


WorkspaceFactory = Callable[..., Workspace]


@pytest.fixture
def make_workspace() -> Iterable[WorkspaceFactory]:
    """Build a workspace: `make_workspace(index_seconds=…, fail_rate=…, client_concurrency=…)`."""
    made: list[Emulated] = []

    def make(
        *, client_concurrency: int = 8, max_retries: int = 5, agents: int = 2, **settings: object
    ) -> Workspace:
        config = replace(EmulatorConfig(index_seconds=2.0), **settings)  # type: ignore[arg-type]
        names = {AGENT: "Agent", **{f"agent_{n}": "Agent" for n in range(2, agents + 1)}}
        emulated = emulate(config, agents=names)
        made.append(emulated)
        client = emulated.new_client(
            max_concurrency=client_concurrency, max_retries=max_retries, seed=7
        )
        return Workspace(
            emulated.clock, emulated.world, ElevenLabsProvider(client), client, emulated.app
        )

    yield make
    for emulated in made:
        emulated.close()


@pytest.fixture
def ws(make_workspace: WorkspaceFactory) -> Workspace:
    """A workspace with indexing taking 2 s of (virtual) time and no faults."""
    return make_workspace()
