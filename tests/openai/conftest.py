"""The handbook example against the emulator's OpenAI side, through kbctl's real client.

`Handbook` copies the example (manifest, Markdown files, sidecars) into a scratch folder and
runs `kbctl.commands` on a `FakeClock` over the in-process emulator (`emulator://`), with a WSGI
recorder in front of it that notes every request and, at each detach, the statuses of the
store's files at that moment (what a search could find then).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kbctl import commands
from kbctl.clock import FakeClock
from kbctl.commands import Session
from kbctl.commands.session import Endpoint, ProviderHandle
from kbctl.emulator import EmulatorApp, open_emulator
from kbctl.emulator.openai import OpenAIWorld
from kbctl.provider.http import ApiClient, wsgi_transport
from kbctl.provider.openai import OpenAIProvider
from tests.jsonview import view

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-handbook-test-key"
STORE = "company-handbook-local"
_DETACH = re.compile(r"^/v1/vector_stores/(?P<vs>vs_[^/]+)/files/(?P<file>[^/]+)$")


@dataclass
class Detach:
    """A detach request, with the store's files and statuses just before it was answered."""

    file_id: str
    statuses: dict[str, str]


class Killed(BaseException):
    """The process died (SIGKILL): raised by the recorder, caught by nothing in kbctl."""


@dataclass
class Recorder:
    """A WSGI app in front of the emulator: logs requests and what each detach saw. With
    `kill_at = N`, the Nth request from now takes effect and then the "process" dies: its
    answer and every later request raise `Killed` (nothing after reaches the emulator)."""

    app: EmulatorApp
    requests: list[tuple[str, str]] = field(default_factory=list)
    detaches: list[Detach] = field(default_factory=list)
    kill_at: int | None = None
    dead: bool = False

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if self.dead:
            raise Killed
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        self.requests.append((method, path))
        match = _DETACH.match(path)
        if method == "DELETE" and match is not None:
            files = self.app.openai.world.store_files(match["vs"])
            states = {view(f).text("id"): view(f).text("status") for f in files}
            self.detaches.append(Detach(match["file"], states))
        if self.kill_at is not None:
            self.kill_at -= 1
            if self.kill_at == 0:
                self.dead = True
                list(self.app(environ, start_response))  # the write happens; its answer is lost
                raise Killed
        return self.app(environ, start_response)

    def uploads(self) -> int:
        return sum(1 for m, p in self.requests if (m, p) == ("POST", "/v1/files"))


class Handbook:
    """The example in a scratch folder, its session, and the emulator behind it."""

    def __init__(self, root: Path, index_seconds: float = 4.0) -> None:
        self.root = root
        shutil.copytree(REPO / "manifests" / "kb", root / "manifests" / "kb")
        shutil.copy(REPO / "manifests" / "handbook.yaml", root / "manifests" / "handbook.yaml")
        self.clock = FakeClock()
        url = f"emulator://{root}/emu?index_seconds={index_seconds}"
        self.app = open_emulator(url, self.clock)
        self.recorder = Recorder(self.app)
        self.session = Session(
            self.clock,
            environ={"OPENAI_API_KEY": KEY},
            cwd=root,
            connect=self._connect,
        )

    def _connect(
        self, session: Session, endpoint: Endpoint, concurrency: int | None
    ) -> ProviderHandle:
        client = ApiClient(
            "http://emulator.invalid/v1",
            session.environ[endpoint.api_key_env],
            session.clock,
            api_key_env=endpoint.api_key_env,
            max_concurrency=concurrency,
            transport=wsgi_transport(self.recorder),
            bearer=True,
        )
        return ProviderHandle(OpenAIProvider(client, endpoint.agent_id or ""), client, agent=False)

    # ------------------------------------------------------------------------------------

    @property
    def world(self) -> OpenAIWorld:
        return self.app.openai.world

    def store_id(self) -> str:
        (store,) = [s for s in self.world.stores() if s["name"] == STORE]
        return str(store["id"])

    def attached(self) -> dict[str, dict[str, Any]]:
        """The store's files by kbctl key (files without one by id)."""
        out: dict[str, dict[str, Any]] = {}
        for f in self.world.store_files(self.store_id()):
            key = view(f).obj_or_empty("attributes").opt_text("kbctl_key")
            out[key or view(f).text("id")] = f
        return out

    def doc(self, key: str) -> Path:
        return self.root / "manifests" / key

    def manifest(self) -> Path:
        return self.root / "manifests" / "handbook.yaml"

    def apply(self, **options: Any) -> commands.ApplyRun:
        return commands.apply(self.session, "local", auto_approve=True, **options)


@pytest.fixture
def handbook(tmp_path: Path) -> Iterator[Handbook]:
    book = Handbook(tmp_path)
    yield book
    assert book.app.openai.internal_errors == []
