"""A test bench for snapshots, rollback, status and import: a project folder (the current
directory) with a manifest, an emulated workspace on a `FakeClock`, the real provider over it,
and the CLI wired to the same workspace.

Shared by the conftests of tests/snapshots, tests/rollback and tests/status_import.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from kbctl.apply import ApplyOptions, ApplyResult, EventSink, apply_agent_plan, ignore
from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorConfig
from kbctl.identity import parse_marker
from kbctl.manifest import load_manifests
from kbctl.model import Target
from kbctl.plan.planner import plan_target
from kbctl.plan.types import AgentPlan
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient
from kbctl.snapshots.hook import SnapshotHook
from kbctl.snapshots.store import SnapshotStore
from tests.harness import emulate

API_KEY = "sk_test_snapshots_0123456789"
STAGING_AGENT = "agent_staging"
PRODUCTION_AGENT = "agent_production"


def text_of(tag: str, size: int = 800) -> str:
    """A deterministic Markdown document of about `size` bytes (over the 500-byte index floor)."""
    line = f"{tag}: the quarter has flats, parking, schools and a park nearby. "
    body = (line * (size // len(line) + 1))[:size]
    return f"# {tag}\n\n{body}\n"


@dataclass(frozen=True)
class Entry:
    """One knowledge-base entry of the emulated agent, read back with its marker."""

    id: str
    name: str
    type: str
    usage_mode: str
    key: str | None
    hash12: str | None


class Bench:
    """The project folder, the emulated workspace, the provider and the snapshot store."""

    def __init__(self, root: Path, clock: FakeClock, config: EmulatorConfig) -> None:
        self.root = root
        agents = {STAGING_AGENT: "Staging Agent", PRODUCTION_AGENT: "Production Agent"}
        self.emulated = emulate(config, agents=agents, clock=clock)
        self.emulated.api_key = API_KEY
        self.clock = clock
        self.world = self.emulated.world
        self.app = self.emulated.app
        self.client = self.new_client()
        self.provider = ElevenLabsProvider(self.client)
        self.store = SnapshotStore(root / "state-snapshots")
        self.manifest_file = "manifests/kb.yaml"  # found by every command without -f

    # ------------------------------------------------------------------------------ files

    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def manifest(
        self,
        docs: Mapping[str, str],
        *,
        rag: str = "max_retrieved_rag_chunks_count: 10",
        rules: str | None = "Always greet the caller by name.",
        url: str | None = "https://example.com/faq",
        extra: str = "",
        policy: str = "index_timeout: 60",
    ) -> str:
        """Write docs/<name>.md for each doc (replacing the folder) and the manifest."""
        base = Path(self.manifest_file).parent
        folder = self.root / base / "docs"
        if folder.exists():
            for old in folder.iterdir():
                old.unlink()
        for name, text in docs.items():
            self.write(f"{base}/docs/{name}.md", text)
        documents = ["  - glob: docs/*.md", "    usage_mode: auto"]
        if rules is not None:
            documents += [
                "  - key: rules",
                "    usage_mode: prompt",
                f"    text: {json.dumps(rules)}",
            ]
        if url is not None:
            documents += [f"  - url: {url}", "    usage_mode: auto"]
        rag_lines = "\n".join(f"  {line}" for line in rag.splitlines())
        policy_lines = "\n".join(f"  {line}" for line in policy.splitlines())
        text = (
            "version: 1\n"
            "project: demo\n"
            "rag:\n"
            "  enabled: true\n"
            "  embedding_model: multilingual_e5_large_instruct\n"
            f"{rag_lines}\n"
            "policy:\n"
            f"{policy_lines}\n"
            "documents:\n"
            + "\n".join(documents)
            + "\n"
            + textwrap.dedent(extra)
            + "environments:\n"
            "  staging:\n"
            f"    agent_id: {STAGING_AGENT}\n"
            "    base_url: https://emulator.kbctl.test\n"
            "  production:\n"
            f"    agent_id: {PRODUCTION_AGENT}\n"
            "    base_url: https://emulator.kbctl.test\n"
        )
        self.write(self.manifest_file, text)
        return self.manifest_file

    def target(self, environment: str = "staging") -> Target:
        (manifest,) = load_manifests([Path(self.manifest_file)], {})
        return manifest.resolve(environment, {})

    # ------------------------------------------------------------------------------ API

    def new_client(self) -> ApiClient:
        return self.emulated.new_client()

    def plan(self, environment: str = "staging") -> AgentPlan:
        target = self.target(environment)
        live = self.provider.read_state(target.agent_id, target.project, target.environment)
        return plan_target(target, live)

    def apply(
        self,
        environment: str = "staging",
        *,
        allow_destroy: bool = False,
        events: EventSink | None = None,
        commit: str | None = "c0ffee" * 6 + "abcd",
    ) -> tuple[ApplyResult, SnapshotHook]:
        """What `kbctl apply --auto-approve` does for one agent, with the snapshot hook."""
        target = self.target(environment)
        live = self.provider.read_state(target.agent_id, target.project, target.environment)
        plan = plan_target(target, live)
        hook = SnapshotHook(self.store, self.clock, self.provider, git_commit=commit)
        result = apply_agent_plan(
            plan,
            target,
            self.provider,
            self.clock,
            events=events or ignore,
            options=ApplyOptions(allow_destroy=allow_destroy, poll_initial=1.0, poll_max=2.0),
            hook=hook,
        )
        self.clock.advance(5)
        return result, hook

    def entries(self, agent_id: str = STAGING_AGENT) -> list[Entry]:
        info = self.world.agent(agent_id)
        assert info is not None
        out = []
        for loc in info.knowledge_base:
            name = str(loc["name"])
            doc = self.world.document(str(loc["id"]))
            marker = parse_marker(doc.name if doc is not None else name)
            out.append(
                Entry(
                    str(loc["id"]),
                    name,
                    str(loc["type"]),
                    str(loc.get("usage_mode", "auto")),
                    marker.key if marker else None,
                    marker.hash12 if marker else None,
                )
            )
        return out

    def kb_state(self, agent_id: str = STAGING_AGENT) -> set[tuple[str | None, str | None, str]]:
        """(key, hash12, usage_mode) of every attached document: what "the same KB" means."""
        return {(e.key, e.hash12, e.usage_mode) for e in self.entries(agent_id)}

    def rag(self, agent_id: str = STAGING_AGENT) -> dict[str, object]:
        info = self.world.agent(agent_id)
        assert info is not None
        return dict(info.rag)

    def world_digest(self) -> str:
        """A fingerprint of the whole workspace: documents, agents and indexes."""
        docs = [(d.id, d.name, d.doc_type, d.data) for d in self.world.documents()]
        agents = [
            (a.agent_id, a.version_id, json.dumps(list(a.knowledge_base), sort_keys=True))
            for a in self.world.agents()
        ]
        indexes = sorted((i.id, i.document_id, i.model) for i in self.world.indexes())
        return hashlib.sha256(repr((docs, agents, indexes)).encode()).hexdigest()

    def write_calls(self) -> int:
        """Requests that could change something (anything but GET)."""
        return sum(n for route, n in self.world.calls.items() if not route.startswith("GET "))

    # ------------------------------------------------------------------------------ CLI

    def run(self, *args: str) -> Result:
        """`kbctl ARGS` in the project folder."""
        return self.emulated.cli(*args)


def snapshot_files(store: SnapshotStore, environment: str = "staging") -> list[Path]:
    folder = store.root / environment
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    return [p for p in files if not p.name.startswith(".")]  # the folder's indexes are no snapshots


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` with the sha256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def make_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: EmulatorConfig | None = None
) -> Iterator[Bench]:
    """The body of each folder's `bench` fixture."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("ELEVENLABS_BASE_URL", raising=False)
    bench = Bench(tmp_path, FakeClock(), config or EmulatorConfig(index_seconds=3.0))
    yield bench
    bench.emulated.close()
