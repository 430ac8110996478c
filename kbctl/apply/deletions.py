"""Deleting a document safely: never `force`, never one another agent or branch still uses.

Owns the decision for one superseded document (delete it, or keep it and say why; ride out the
API's dependency lag right after the swap by retrying within `policy.delete_wait`) and the
plain delete of a document this run created after a failed gate. Both run in worker threads
and return a note instead of raising, so one failure never hides what the others did. A
document that is already gone (404 on any of the calls) counts as deleted: the goal is reached.
"""

from __future__ import annotations

from typing import assert_never

from kbctl.clock import Clock
from kbctl.errors import ApiError, NotFoundError
from kbctl.provider.base import DeleteOutcome, Dependents, Provider

#: Backoff between deletes the API refused while its dependency cache lags (seconds).
_FIRST_RETRY = 1.0
_MAX_RETRY = 8.0


def delete_superseded(
    provider: Provider,
    agent_id: str,
    doc_id: str,
    *,
    clock: Clock | None = None,
    wait: float = 0.0,
) -> str | None:
    """Delete `doc_id` unless something but `agent_id` uses it; None, or why it was kept.

    Right after the swap the API may still call the document in use although only `agent_id`
    (or nothing) depends on it: its dependency cache lags behind the agent's new array. Such a
    refusal is retried with backoff for up to `wait` seconds of `clock`; a document still left
    then is an orphan the next apply deletes.
    """
    deadline = clock.monotonic() + wait if clock is not None else 0.0
    delay = _FIRST_RETRY
    while True:
        try:
            dependents = provider.dependents(doc_id)
            if dependents.others(agent_id):
                return f"used by {users(dependents, agent_id)} — kept; detach it there first"
            outcome = provider.delete_document(doc_id)
        except NotFoundError:
            return None  # already gone (a parallel run, a person): the goal is reached
        except ApiError as err:
            return f"delete failed ({err.summary}); the next apply retries it"
        if outcome is not DeleteOutcome.IN_USE or clock is None or wait <= 0:
            return _note(outcome)
        now = clock.monotonic()
        if now >= deadline:
            return (
                f"still in use after {wait:g} s although nothing else depends on it (the API's "
                "dependency cache lags) — kept; the next apply deletes it"
            )
        clock.sleep(min(delay, deadline - now))
        delay = min(delay * 2, _MAX_RETRY)


def delete_created(provider: Provider, doc_id: str) -> str | None:
    """Delete a document this run created (nothing can depend on it yet); None, or why not."""
    try:
        outcome = provider.delete_document(doc_id)
    except NotFoundError:
        return None
    except ApiError as err:
        return f"delete failed ({err.summary}); the next apply deletes it"
    return _note(outcome)


def users(dependents: Dependents, agent_id: str) -> str:
    """Who else uses a document, for a person: agent ids, branches, agents the key cannot see."""
    return ", ".join(dependents.describe(agent_id)) or "another agent"


def _note(outcome: DeleteOutcome) -> str | None:
    match outcome:
        case DeleteOutcome.DELETED | DeleteOutcome.GONE:
            return None
        case DeleteOutcome.IN_USE:
            return "still in use (the API refused to delete it without force) — kept"
        case DeleteOutcome.NOT_OURS:
            return "not uploaded by kbctl — detached, the file itself is kept"
        case _:
            assert_never(outcome)
