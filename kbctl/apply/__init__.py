"""Apply: carry out a plan against the live workspace, index-gated and create-before-destroy.

`apply_agent_plan` is the API the CLI (and rollback) call; events report progress, the hook lets
snapshots watch. See `executor` for the order and why each step is safe to interrupt.
"""

from kbctl.apply.events import ApplyEvent, EventSink, Phase, RecordingEvents, ignore
from kbctl.apply.executor import apply_agent_plan
from kbctl.apply.types import (
    DEFAULT_CONCURRENCY,
    ApplyHook,
    ApplyOptions,
    ApplyResult,
    DocOutcome,
    NullHook,
    Outcome,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "ApplyEvent",
    "ApplyHook",
    "ApplyOptions",
    "ApplyResult",
    "DocOutcome",
    "EventSink",
    "NullHook",
    "Outcome",
    "Phase",
    "RecordingEvents",
    "apply_agent_plan",
    "ignore",
]
