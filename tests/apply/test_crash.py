"""Real processes against the emulator over a socket: SIGKILL at many points, and real faults.

The emulator runs in this process (`EmulatorServer` on 127.0.0.1, port 0) behind
`tests.killing.KillSwitch`, which counts requests and, on a chosen one, SIGKILLs the
`kbctl apply` subprocess before answering (the request itself still takes effect: the harshest
case, a write whose answer is lost). After every kill one more apply runs to completion, and
the workspace must match the manifest: every attached auto document indexed, no managed orphan,
no duplicate.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli
from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, EmulatorServer, World
from kbctl.identity import canonical_text, content_hash
from kbctl.model import DocType, IndexStatus, UsageMode
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient
from tests.killing import KillSwitch, Predicate, kbctl_process, nth_request, nth_request_of

pytestmark = pytest.mark.slow

AGENT = "agent_local"
MODEL = "multilingual_e5_large_instruct"
PROJECT = "crash"
FILLER = "Flats from 45 to 120 m², parking, schools and parks nearby. " * 12
MANIFEST = f"""\
version: 1
project: {PROJECT}
rag:
  enabled: true
  embedding_model: {MODEL}
policy:
  index_timeout: 60
  max_deletes: 50
documents:
  - glob: docs/*.md
environments:
  local:
    base_url: http://unused.invalid
    agent_id: {AGENT}
"""


@dataclass
class Rig:
    """A served emulator, a repository with a manifest, and ways to run kbctl against both."""

    root: Path
    world: World
    switch: KillSwitch
    url: str
    provider: ElevenLabsProvider
    version: int = 0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(ELEVENLABS_BASE_URL=self.url, ELEVENLABS_API_KEY="crash-test-key")
        env.pop("KBCTL_DEBUG", None)
        return env

    def write_docs(self, version: int, count: int = 34) -> None:
        """`count` documents; every one's content changes with `version`; the first two are
        dropped and two new ones appear on each version, so there are deletes and creates."""
        folder = self.root / "manifests" / "docs"
        for old in folder.glob("*.md"):
            old.unlink()
        for i in range(version * 2, version * 2 + count):
            (folder / f"d{i:03d}.md").write_text(f"# d{i:03d} v{version}\n\n{FILLER}")
        self.version = version

    def args(self) -> list[str]:
        """`apply` with absolute paths: the in-process runs do not change directory."""
        manifest = str(self.root / "manifests" / "kb.yaml")
        snaps = str(self.root / "snaps")
        return ["apply", "-e", "local", "-f", manifest, "--auto-approve", "--snapshots-dir", snaps]

    def apply_in_process(self, *extra: str) -> str:
        """One complete apply (no kill switch armed)."""
        self.switch.arm(None, None)
        result = CliRunner().invoke(cli, [*self.args(), *extra], env=self.env())
        assert result.exit_code == 0, result.output
        return result.output

    def apply_killed(self, when: Predicate) -> bool:
        """Run `kbctl apply` as a process and SIGKILL it when `when` says; True if it was."""
        proc = kbctl_process(self.args(), cwd=self.root, env=self.env(), stdout=subprocess.DEVNULL)
        self.switch.arm(proc, when)
        _, err = proc.communicate(timeout=120)
        if proc.returncode not in (0, -signal.SIGKILL):
            pytest.fail(f"apply exited {proc.returncode}: {err.decode()}")
        return proc.returncode == -signal.SIGKILL

    def assert_converged(self) -> None:
        """The agent holds exactly the manifest's documents, indexed; nothing else is left."""
        folder = self.root / "manifests" / "docs"
        wanted = {}
        for path in folder.glob("*.md"):
            content = canonical_text(path.read_text(encoding="utf-8"))
            wanted[f"docs/{path.name}"] = content_hash(DocType.TEXT, content)[:12]
        live = self.provider.read_state(AGENT, PROJECT, "local")
        ids = [e.id for e in live.agent.knowledge_base]
        assert len(ids) == len(set(ids)), "duplicate ids in the agent"
        held = {}
        for entry in live.agent.knowledge_base:
            doc = live.document(entry.id)
            assert doc is not None and doc.marker is not None, entry
            assert doc.marker.key not in held, f"duplicate key {doc.marker.key}"
            held[doc.marker.key] = doc.marker.hash12
            assert entry.usage_mode is UsageMode.AUTO
            state = self.provider.index_state(entry.id, MODEL)
            assert state.status is IndexStatus.SUCCEEDED, (entry, state)
        assert held == wanted
        orphans = [d for d in live.documents if d.marker is not None and d.id not in set(ids)]
        assert not orphans, f"managed orphans: {orphans}"


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    servers: list[tuple[EmulatorServer, ApiClient]] = []

    def make(**settings: Any) -> Rig:
        config = EmulatorConfig(**{"index_seconds": 0.3, **settings})
        world = World(config, SystemClock())
        world.create_agent(AGENT)
        app = EmulatorApp(world)
        switch = KillSwitch(app)
        server = EmulatorServer(switch, port=0)  # type: ignore[arg-type]
        server.start()
        inspect = ApiClient(
            "http://inspect", "k", SystemClock(), transport=httpx.WSGITransport(app=app)
        )
        servers.append((server, inspect))
        (tmp_path / "manifests" / "docs").mkdir(parents=True)
        (tmp_path / "manifests" / "kb.yaml").write_text(MANIFEST)
        return Rig(tmp_path, world, switch, server.url, ElevenLabsProvider(inspect))

    yield make
    for server, client in servers:
        client.close()
        server.stop()


def _after_patch() -> Predicate:
    patched = [False]

    def when(method: str, path: str, count: int) -> bool:
        if patched[0]:
            return True
        patched[0] = method == "PATCH" and "/agents/" in path
        return False

    return when


def test_sigkill_at_many_points_then_one_apply_converges(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    rig.write_docs(0)
    rig.apply_in_process()
    rig.assert_converged()
    # Calibrate: how many requests an uninterrupted run of 34 changed documents makes.
    rig.write_docs(1)
    rig.apply_in_process()
    rig.assert_converged()
    total = rig.switch.count
    assert total > 120, total  # the gate polls in batches: a few requests per round
    points: list[tuple[str, Predicate]] = [
        (f"request {n} of {total}", nth_request(n))
        for n in sorted({max(3, int(total * f)) for f in (0.04, 0.2, 0.45, 0.8)})
    ]
    points += [
        ("the 17th upload", nth_request_of("POST", "/knowledge-base/text", 17)),
        ("the 5th index request", nth_request_of("POST", "/rag-index", 5)),
        ("the PATCH itself", nth_request_of("PATCH", "/agents/")),
        ("right after the PATCH", _after_patch()),
        ("the 10th delete", nth_request_of("DELETE", "/knowledge-base/", 10)),
    ]
    killed = []
    for version, (label, when) in enumerate(points, start=2):
        rig.write_docs(version)
        if rig.apply_killed(when):
            killed.append(label)
        rig.apply_in_process()
        try:
            rig.assert_converged()
        except AssertionError as err:
            raise AssertionError(f"after a kill at {label}: {err}") from err
    assert len(killed) >= len(points) - 2, killed


def test_injected_faults_and_a_concurrency_limit_of_3_converge(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(fail_rate=0.2, max_concurrency=3, latency_ms=5, seed=5)
    for version in (0, 1):
        rig.write_docs(version, count=30)
        for _attempt in range(5):
            rig.switch.arm(None, None)
            result = CliRunner().invoke(cli, [*rig.args(), "--concurrency", "4"], env=rig.env())
            if result.exit_code == 0:
                break
        else:
            pytest.fail(f"apply never converged: {result.output}")
        rig.assert_converged()
        names = [d.name for d in rig.world.documents()]
        assert len(names) == len(set(names)), "a document was uploaded twice"
    assert rig.switch.app.injected.get("fail_rate", 0) > 10
    assert rig.switch.app.injected.get("max_concurrency", 0) > 0


def _first_listing_after_an_upload() -> Predicate:
    """The first request for the document listing once an upload was sent: after the uploads,
    that is the reconciliation's first read of lost creates' copies."""
    uploaded = [False]

    def when(method: str, path: str, count: int) -> bool:
        if method == "POST" and path.endswith("/knowledge-base/text"):
            uploaded[0] = True
        return uploaded[0] and method == "GET" and path == "/v1/convai/knowledge-base"

    return when


def test_sigkill_before_the_lost_creates_are_reconciled_then_one_apply_converges(
    make_rig: Callable[..., Rig],
) -> None:
    """Answers lost after the write leave extra copies; the run dies as it starts looking for
    them. The next apply reuses one copy per key, deletes the others and converges."""
    rig = make_rig(fail_after_write_rate=0.3, latency_ms=5, seed=5)
    rig.write_docs(0, count=12)
    assert rig.apply_killed(_first_listing_after_an_upload())
    managed = [d.name for d in rig.world.documents() if d.name.startswith("docs/")]
    assert len(managed) > len(set(managed)) == 12, "the seed must leave extra copies"
    rig.world.config = replace(rig.world.config, fail_after_write_rate=0.0)
    rig.apply_in_process()
    rig.assert_converged()
    names = [d.name for d in rig.world.documents() if d.name.startswith("docs/")]
    assert sorted(names) == sorted(set(managed))
