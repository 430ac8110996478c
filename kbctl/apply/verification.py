"""After the PATCH: is the agent what this run wrote, and if it is not, who won the race?

Owns the verification of the agent the PATCH answered (read again only when that answer differs),
the final check after the deletions (whose read-back, with what the run did, is the state the
"after" snapshot records: no second listing), and naming the writer of a version (its
description, which kbctl fills with the run id and commit). A newer version that is not what
kbctl wrote is a lost race (`ConcurrentChangeError`, exit 4); kbctl's own version differing is a
failed write (`VerificationError`, exit 1). Reads only; never writes the agent back.
"""

from __future__ import annotations

from dataclasses import replace

from kbctl.apply.steps import renames
from kbctl.apply.swap import shape
from kbctl.apply.types import DocOutcome
from kbctl.errors import ApiError, ConcurrentChangeError, VerificationError
from kbctl.identity import owned_name
from kbctl.model import KbEntry, LiveAgent, LiveDocument, LiveState, Marker, RagSettings
from kbctl.plan.types import AgentPlan
from kbctl.provider.base import Provider

#: What the agent must look like after a run: the agent as written (or as found, when no
#: PATCH was needed), the array and the RAG fields that decide it.
Expected = tuple[LiveAgent, tuple[KbEntry, ...], RagSettings | None]


def who_wrote(provider: Provider, agent: LiveAgent) -> str:
    """` Version V was committed as "…".` (who wrote the agent as it is), or "" when unknown."""
    if agent.version_id is None:
        return ""
    try:
        text = provider.version_description(agent.id, agent.version_id)
    except ApiError:
        return ""
    return f' Version {agent.version_id} was committed as "{text}".' if text else ""


def verify_written(
    provider: Provider,
    plan: AgentPlan,
    written: LiveAgent,
    entries: tuple[KbEntry, ...],
    rag: RagSettings | None,
) -> None:
    """Check the agent as the PATCH answered it; read it again only when that answer differs.

    Raises:
        ConcurrentChangeError: the re-read agent is another version, not what kbctl wrote.
        VerificationError: the agent kbctl's own write produced is not what it sent.
        ApiError: the re-read failed.
    """
    if not differences(written, entries, rag):
        return
    readback = provider.get_agent(plan.agent_id)
    problems = differences(readback, entries, rag)
    if not problems:
        return
    if _other_version(written, readback):
        raise overwritten(provider, plan, written, readback, problems, deleted=False)
    raise VerificationError(
        f"The {plan.words.label(plan.agent_id)}, read back after the update, is not what "
        "kbctl wrote",
        detail="\n".join(problems),
        hint=(
            f"Superseded documents were not deleted. Check {plan.words.the} in the dashboard, then "
            "run kbctl plan and apply again."
        ),
    )


def check_still_ours(provider: Provider, plan: AgentPlan, expected: Expected) -> LiveAgent:
    """After the deletions: the agent must still be what this run left, else it lost a race.

    Returns the agent read back (verified).

    Raises:
        ConcurrentChangeError: someone wrote the agent after this run (exit 4).
        ApiError: the agent could not be read.
    """
    written, entries, rag = expected
    current = provider.get_agent(plan.agent_id)
    problems = differences(current, entries, rag)
    if problems:
        raise overwritten(provider, plan, written, current, problems, deleted=True)
    return current


def after_state(
    start: LiveState, agent: LiveAgent, plan: AgentPlan, deleted: list[DocOutcome]
) -> LiveState:
    """The live state a successful run left, without listing the workspace again: the state it
    started from, less what it deleted, renames applied, the verified `agent`, and every document
    the agent now holds that was not there before (this run's uploads, as the agent names them).
    """

    def ours(name: str) -> Marker | None:
        return owned_name(name, plan.project, plan.environment)

    gone = {d.id for d in deleted}
    new_names = {c.live_id: c.name for c in renames(plan.changes)}
    docs = {
        d.id: replace(d, name=new_names[d.id], marker=ours(new_names[d.id]))
        if d.id in new_names
        else d
        for d in start.documents
        if d.id not in gone
    }
    for entry in agent.knowledge_base:
        if entry.id not in docs:
            docs[entry.id] = LiveDocument(entry.id, entry.name, entry.doc_type, 0, ours(entry.name))
    documents = tuple(sorted(docs.values(), key=lambda d: d.id))
    return replace(start, agent=agent, documents=documents, warnings=())


def differences(
    agent: LiveAgent, entries: tuple[KbEntry, ...], rag: RagSettings | None
) -> list[str]:
    """How `agent` differs from the array and RAG fields kbctl wrote (empty: it does not)."""
    want, got = shape(entries), shape(agent.knowledge_base)
    problems: list[str] = []
    if want != got:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        dupes = len(got) - len(set(got))
        problems.append(
            f"knowledge_base differs: missing {_ids(missing)}, unexpected {_ids(extra)}"
            + (f", {dupes} duplicate(s)" if dupes else "")
        )
    for name, value in rag.items() if rag is not None else ():
        if getattr(agent.rag, name) != value:
            problems.append(f"rag.{name} is {getattr(agent.rag, name)!r}, not {value!r}")
    return problems


def overwritten(
    provider: Provider,
    plan: AgentPlan,
    written: LiveAgent,
    current: LiveAgent,
    problems: list[str],
    *,
    deleted: bool,
) -> ConcurrentChangeError:
    """The exit-4 error of a run whose write was replaced by someone else's (it lost the race)."""
    done = (
        "Superseded documents were deleted only where nothing used them any more."
        if deleted
        else "Superseded documents were not deleted."
    )
    return ConcurrentChangeError(
        f"The {plan.words.label(plan.agent_id)} was changed by someone else after kbctl updated it",
        detail="\n".join(
            [
                f"kbctl wrote version {written.version_id or '(unknown)'}; {plan.words.the} now is "
                f"version {current.version_id or '(unknown)'}, written after it."
                + who_wrote(provider, current),
                *problems,
                done,
            ]
        ),
        hint=(
            "Another run (or a person in the dashboard) won the race: its state is the live one. "
            "Run kbctl plan to see it, then kbctl apply again if the manifest should win."
        ),
    )


def _other_version(written: LiveAgent, current: LiveAgent) -> bool:
    """True unless both are known to be the same agent version."""
    return written.version_id is None or written.version_id != current.version_id


def _ids(items: list[tuple[str, str, str]]) -> str:
    return ", ".join(f"{i} ({t}, {m})" for i, t, m in items) or "none"
