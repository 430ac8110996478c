"""Who else uses a shared document: the value the plan reads before deciding what it may drop.

The environments of a project share its ElevenLabs documents (`kbctl.identity`): a document
one environment's agent leaves may still be what another's serves. `kbctl.observe` reads that
(the API's dependent agents) into `SharedUse` values on the `LiveState`; the planner keeps every
document listed there (detached at most, never deleted). Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SharedUse:
    """Who else uses a managed document (another environment's agent, a branch), as read
    before planning; `unknown` says why it could not be told (kept then, never deleted)."""

    doc_id: str
    users: tuple[str, ...] = ()  # agent ids and "agent (branch b)", for a person
    unknown: str | None = None

    @property
    def label(self) -> str:
        """The users, for a person."""
        return f"unknown users ({self.unknown})" if self.unknown else ", ".join(self.users)
