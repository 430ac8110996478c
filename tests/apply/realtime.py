"""An emulated workspace on the real clock, for what only real overlap shows: requests in flight
at once (a server's concurrency limit) and polls made while uploads are still on the wire.

The emulator's latency makes each request take real time, so threads overlap as they would
against the API; tests assert on what happened (order, counts, limits), never on durations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from kbctl.apply import ApplyOptions, ApplyResult, RecordingEvents, apply_agent_plan
from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.model import DocumentSpec, Policy, RagSettings, SmallDocumentPolicy, Target
from kbctl.plan.planner import plan_target
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient
from tests.apply.conftest import AGENT, ENV, MODEL, PROJECT


@dataclass
class RealRig:
    """The emulator on the real clock and kbctl's client in front of it."""

    world: World
    app: EmulatorApp
    client: ApiClient
    provider: ElevenLabsProvider
    events: RecordingEvents = field(default_factory=RecordingEvents)

    def target(self, documents: Iterable[DocumentSpec]) -> Target:
        """A target for the rig's agent (the same shape as the fake-clock workspace's)."""
        return Target(
            manifest="manifests/kb.yaml",
            project=PROJECT,
            environment=ENV,
            agent_id=AGENT,
            base_url="emulator://unused",
            api_key_env="ELEVENLABS_API_KEY",
            protect=False,
            rag=RagSettings(enabled=True, embedding_model=MODEL),
            policy=Policy(index_timeout=60.0, small_documents=SmallDocumentPolicy.PROMPT),
            documents=tuple(documents),
        )

    def apply(self, target: Target, *, concurrency: int | None) -> ApplyResult:
        """Plan `target` now and apply it, polling indexes from 50 ms on."""
        live = self.provider.read_state(target.agent_id, target.project, target.environment)
        return apply_agent_plan(
            plan_target(target, live),
            target,
            self.provider,
            SystemClock(),
            events=self.events,
            options=ApplyOptions(concurrency=concurrency, poll_initial=0.05, poll_max=0.5),
        )

    def close(self) -> None:
        """Close the client; the emulator must not have failed internally."""
        self.client.close()
        assert self.app.internal_errors == [], self.app.internal_errors


def real_rig(*, client_concurrency: int | None, **settings: object) -> RealRig:
    """A workspace with agent `AGENT` on the real clock; `settings` are `EmulatorConfig`'s."""
    world = World(EmulatorConfig(**settings), SystemClock())  # type: ignore[arg-type]
    world.create_agent(AGENT)
    app = EmulatorApp(world)
    client = ApiClient(
        "https://emulator.kbctl.test",
        "sk_test_realtime",
        SystemClock(),
        transport=httpx.WSGITransport(app=app),
        max_concurrency=client_concurrency,
        seed=3,
    )
    return RealRig(world, app, client, ElevenLabsProvider(client))
