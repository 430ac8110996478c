"""The process environment, read here and nowhere else (light: imported by the error boundary)."""

from __future__ import annotations

import os
from collections.abc import Mapping


def environ() -> Mapping[str, str]:
    """The process environment."""
    return os.environ


def in_github_actions() -> bool:
    """True when running as a GitHub Actions step (annotations are then printed too)."""
    return environ().get("GITHUB_ACTIONS") == "true"
