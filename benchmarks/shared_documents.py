"""RAG quota for two environments of one project in one workspace, with and without sharing.

Run: `.venv/bin/python benchmarks/shared_documents.py [--documents 20] [--bytes 2000]`

Setup. An in-process emulator on a fake clock (indexing takes 3 s of it, no wall time) holds a
staging and a production agent. One manifest declares `--documents` Markdown files of about
`--bytes` each, and both environments. `kbctl.commands.apply` (what `kbctl apply
--auto-approve` runs) applies staging, then production, with the same content, twice:

- with sharing: one project, as kbctl does now — production reuses staging's documents;
- without sharing: each environment as a project of its own (what environment markers made of
  them before): production uploads and indexes its own copy.

Printed per mode: the RAG quota used (the workspace overview's `total_used_bytes`) after
staging and after production, the uploads production's apply made and the RAG indexes it
created, and the size of one copy (the bytes of the declared documents). Sharing holds one
copy for both environments; without it, production doubles the quota. Tests never assert on
these numbers; this script only prints them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx

from kbctl import commands
from kbctl.clock import FakeClock
from kbctl.commands import Endpoint, ProviderHandle, Session
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient

UPLOADS = ("POST /v1/convai/knowledge-base/text",)
LINE = "Flats from 45 to 120 m², parking, schools and parks nearby; prices per quarter. "


class Bench:
    """One workspace, one project folder, and kbctl's real client over the emulator."""

    def __init__(self, root: Path, documents: int, size: int, shared: bool) -> None:
        self.root = root
        self.clock = FakeClock()
        self.world = World(EmulatorConfig(index_seconds=3.0), self.clock)
        self.app = EmulatorApp(self.world)
        for agent in ("agent_staging", "agent_production"):
            self.world.create_agent(agent)
        self.copy_bytes = 0
        for i in range(documents):
            text = f"# Quarter {i}\n\n" + (LINE * (size // len(LINE) + 1))[:size] + "\n"
            path = root / "manifests" / "docs" / f"q{i:03d}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            self.copy_bytes += len(text.encode())
        head = (
            "version: 1\nproject: {project}\n"
            "rag:\n  enabled: true\n  embedding_model: multilingual_e5_large_instruct\n"
            "documents:\n  - glob: docs/*.md\nenvironments:\n"
        )
        env = "  {0}:\n    agent_id: agent_{0}\n    base_url: http://bench\n"
        folder = root / "manifests"
        if shared:  # one manifest, both environments: one project
            text = head.format(project="demo") + env.format("staging") + env.format("production")
            (folder / "demo.yaml").write_text(text, encoding="utf-8")
        else:  # a project per environment: each its own copies
            for name in ("staging", "production"):
                text = head.format(project=f"demo-{name}") + env.format(name)
                (folder / f"{name}.yaml").write_text(text, encoding="utf-8")

    def connect(self, session: Session, endpoint: Endpoint, concurrency: int) -> ProviderHandle:
        client = ApiClient(
            "http://bench",
            "bench-key",
            self.clock,
            transport=httpx.WSGITransport(app=self.app),
            max_concurrency=concurrency,
        )
        session.secrets.add("bench-key")
        return ProviderHandle(ElevenLabsProvider(client), client)

    def apply(self, environment: str) -> tuple[int, int]:
        """Apply one environment; (uploads, RAG indexes created) of that apply."""
        before, indexes = dict(self.world.calls), len(list(self.world.indexes()))
        session = Session(self.clock, cwd=self.root, connect=self.connect)
        commands.apply(session, environment, auto_approve=True)
        uploads = sum(self.world.calls[r] - before.get(r, 0) for r in UPLOADS)
        return uploads, len(list(self.world.indexes())) - indexes

    def quota_used(self) -> int:
        used = self.world.overview()["total_used_bytes"]
        assert isinstance(used, int)
        return used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--bytes", type=int, default=2000)
    args = parser.parse_args(argv)
    print(f"{args.documents} documents of about {args.bytes} bytes, staging then production")
    print(
        f"{'mode':<16}{'one copy':>10}{'after staging':>15}{'after production':>18}"
        f"{'prod uploads':>14}{'prod indexes':>14}"
    )
    for shared in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            bench = Bench(Path(tmp), args.documents, args.bytes, shared)
            bench.apply("staging")
            after_staging = bench.quota_used()
            uploads, indexes = bench.apply("production")
            after_production = bench.quota_used()
            mode = "with sharing" if shared else "without sharing"
            print(
                f"{mode:<16}{bench.copy_bytes:>10}{after_staging:>15}{after_production:>18}"
                f"{uploads:>14}{indexes:>14}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
