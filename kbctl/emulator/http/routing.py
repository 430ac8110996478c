"""A tiny router: path templates such as `/v1/convai/knowledge-base/{documentation_id}`, matched
with literal-before-parameter precedence (`/knowledge-base/rag-index` beats `/{documentation_id}`),
405 for a known path with another method.

Owns matching only. Must not know what the handlers do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kbctl.emulator.http.messages import Request, Response
from kbctl.emulator.workspace.world import World

Handler = Callable[[World, Request, dict[str, str]], Response]


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint. `writes`: it may change state (persistence, after-write faults)."""

    method: str
    template: str
    handler: Handler
    writes: bool
    pattern: re.Pattern[str]
    specificity: tuple[int, ...]

    @property
    def key(self) -> str:
        """`"GET /v1/convai/knowledge-base/{documentation_id}"` (what `World.calls` counts)."""
        return f"{self.method} {self.template}"


def _compile(template: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
    parts = template.strip("/").split("/")
    regex = []
    specificity = []
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            regex.append(f"(?P<{part[1:-1]}>[^/]+)")
            specificity.append(0)
        else:
            regex.append(re.escape(part))
            specificity.append(1)
    return re.compile("^/" + "/".join(regex) + "/?$"), tuple(specificity)


class Router:
    """Routes, most specific first."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, *, writes: bool = False) -> None:
        """Register `handler` for `method template`."""
        pattern, specificity = _compile(template)
        self._routes.append(Route(method, template, handler, writes, pattern, specificity))
        self._routes.sort(key=lambda r: tuple(-s for s in r.specificity))

    @property
    def routes(self) -> list[Route]:
        """Every route, in matching order."""
        return list(self._routes)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path parameters, path known for another method)."""
        other_method = False
        for route in self._routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict(), False
            other_method = True
        return None, {}, other_method
