"""Interleavings on demand: a WSGI layer in front of the emulator that runs an action right
before or right after a chosen request of one client.

It stands where the network is, so kbctl's own code runs unchanged: a second apply, a person in
the dashboard or a parallel deletion happens exactly between two requests of the run under test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.http import ApiClient
from tests.apply.conftest import Workspace

Action = Callable[[str], None]  # gets the request path


@dataclass
class _Trigger:
    method: str
    pattern: re.Pattern[str]
    action: Action
    after: bool
    nth: int
    seen: int = 0


@dataclass
class Interleaver:
    """WSGI middleware: `before`/`after` register an action on the nth matching request."""

    app: Callable[..., Iterable[bytes]]
    triggers: list[_Trigger] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)

    def before(self, method: str, path: str, action: Action, *, nth: int = 1) -> None:
        """Run `action` before the nth `method` request whose path matches the regex `path`."""
        self.triggers.append(_Trigger(method, re.compile(path), action, False, nth))

    def after(self, method: str, path: str, action: Action, *, nth: int = 1) -> None:
        """Run `action` after the nth matching request took effect, before its answer returns."""
        self.triggers.append(_Trigger(method, re.compile(path), action, True, nth))

    def __call__(self, environ: Mapping[str, Any], start_response: Any) -> Iterable[bytes]:
        method, path = str(environ["REQUEST_METHOD"]), str(environ["PATH_INFO"])
        self.log.append((method, path))
        due = [t for t in self.triggers if t.method == method and t.pattern.search(path)]
        fire: list[_Trigger] = []
        for trigger in due:
            trigger.seen += 1
            if trigger.seen == trigger.nth:
                fire.append(trigger)
        for trigger in fire:
            if not trigger.after:
                trigger.action(path)
        body = list(self.app(environ, start_response))
        for trigger in fire:
            if trigger.after:
                trigger.action(path)
        return body


def interleaved_provider(ws: Workspace) -> tuple[ElevenLabsProvider, Interleaver]:
    """A second client of the workspace's emulator, with an `Interleaver` in front of it."""
    layer = Interleaver(ws.app)
    client = ApiClient(
        "http://emulator", "test-key", ws.clock, transport=httpx.WSGITransport(app=layer), seed=11
    )
    return ElevenLabsProvider(client), layer


def other_provider(ws: Workspace) -> ElevenLabsProvider:
    """Another client of the same emulator (a second process, another machine)."""
    client = ApiClient(
        "http://emulator", "test-key", ws.clock, transport=httpx.WSGITransport(app=ws.app), seed=13
    )
    return ElevenLabsProvider(client)
