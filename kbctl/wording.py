"""The words people read for what an environment keeps: an ElevenLabs agent or an OpenAI store.

Owns the nouns of human output (plan text and Markdown, apply's lines and errors, status, check,
snapshots), picked by the provider: "agent agent_x" and "the agent's knowledge base" for
ElevenLabs, "vector store vs_x" and "the store's files" for OpenAI. It must not name JSON fields
or plan-file keys: those (`agent_id`, …) are the same for every provider. Pure strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kbctl.model import ProviderKind


@dataclass(frozen=True, slots=True)
class Wording:
    """How human output names one provider's target."""

    noun: str  # "agent", "vector store"
    short: str  # the noun after "the": "agent", "store"
    contents: str  # what it holds, after its possessive: "knowledge base", "files"
    lease: str  # what an apply lease is in the workspace: "folder", "vector store"

    def label(self, target_id: str) -> str:
        """`agent agent_x`, `vector store vs_x`."""
        return f"{self.noun} {target_id}"

    @property
    def title(self) -> str:
        """The noun at the start of a sentence: `Agent`, `Vector store`."""
        return self.noun[:1].upper() + self.noun[1:]

    @property
    def the(self) -> str:
        """`the agent`, `the store`."""
        return f"the {self.short}"

    @property
    def the_title(self) -> str:
        """`The agent`, `The store`."""
        return f"The {self.short}"

    @property
    def kb(self) -> str:
        """`the agent's knowledge base`, `the store's files`."""
        return f"the {self.short}'s {self.contents}"


#: The end of a plan (and an apply) with nothing to do.
NO_CHANGES = "No changes. The knowledge base matches the manifest."

AGENT = Wording("agent", "agent", "knowledge base", "folder")
VECTOR_STORE = Wording("vector store", "store", "files", "vector store")


def wording(provider: ProviderKind) -> Wording:
    """The words for targets of `provider`."""
    return VECTOR_STORE if provider is ProviderKind.OPENAI else AGENT


def no_changes(words: Wording) -> str:
    """That nothing changes: `NO_CHANGES`, or for vector stores, that their files match."""
    return (
        "No changes. The store's files match the manifest." if words == VECTOR_STORE else NO_CHANGES
    )


def common(providers: Iterable[ProviderKind]) -> Wording:
    """The words for several targets: their provider's when they share one (the agent's when
    there are none), else `agent / vector store` (a table holding both kinds)."""
    kinds = set(providers)
    if len(kinds) > 1:
        return Wording("agent / vector store", "target", "documents", "lease")
    return wording(kinds.pop()) if kinds else AGENT


def counted(providers: Iterable[ProviderKind]) -> str:
    """How many targets of each kind, e.g. `3 agents` or `1 agent and 2 vector stores`."""
    kinds = list(providers)
    parts = []
    for words in (AGENT, VECTOR_STORE):
        n = sum(1 for p in kinds if wording(p) == words)
        if n:
            parts.append(f"{n} {words.noun}{'' if n == 1 else 's'}")
    return " and ".join(parts)
