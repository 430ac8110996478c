"""Content diffs for a plan: what the live text of each replaced text document becomes.

Owns reading the live content of the documents a plan replaces (only those, only text
documents, with bounded parallelism) and turning it into a unified diff against the declared
content, attached to each `ReplaceDocument.diff`. The planner stays pure: this runs after it,
over the provider, and adds data the renderers show. It never decides anything: a content read
that fails leaves that change without a diff. Files and URLs get no diff (their size and hash
are shown instead): a file's live content is extracted text, not what was uploaded, and a
URL's content is the server's.

`unified_diff` is shared with `kbctl snapshots diff`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from kbctl.errors import KbctlError
from kbctl.identity import canonical_text
from kbctl.model import DocType, Target
from kbctl.plan.types import AgentPlan, DocumentChange, ReplaceDocument, ReplaceReason

__all__ = ["DEFAULT_CONCURRENCY", "MAX_DIFF_LINES", "attach_diffs", "unified_diff", "without_diffs"]

#: Content reads in flight at once (the HTTP client bounds all requests as well).
DEFAULT_CONCURRENCY = 4
#: Lines kept of one document's diff in the plan itself (the rest is counted, not stored), so
#: that a rewritten large document does not make the plan file as large as the document.
MAX_DIFF_LINES = 2_000


def unified_diff(
    before: str,
    after: str,
    key: str,
    *,
    context: int = 3,
    labels: tuple[str, str] = ("live", "declared"),
) -> str:
    """A unified diff of `before` (live) against `after` (declared); '' when they are equal.

    Longer than `MAX_DIFF_LINES` lines, it is cut and ends with a `… N more lines` line.
    """
    lines = list(
        difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            fromfile=f"{labels[0]}/{key}",
            tofile=f"{labels[1]}/{key}",
            n=context,
            lineterm="",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        hidden = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"… {hidden} more diff lines not kept"]
    return "\n".join(lines) + "\n" if lines else ""


def attach_diffs(
    agent: AgentPlan,
    target: Target,
    read: Callable[[str], bytes],
    *,
    local: Callable[[str], bytes | None] | None = None,
    redact: Callable[[str], str] = str,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> AgentPlan:
    """`agent` with a diff on every replace of a text document whose live content `read`
    (a document id → its content) returns; the other changes are returned as they are.

    `local` (the 12-character content hash the live document's marker names → that content,
    or None) is asked first, for content replaces only: a snapshot blob that matches saves a
    request. An edited-in-place document's marker does not say what it holds, so it is read.
    """
    specs = {s.key: s for s in target.documents}
    wanted = [
        c
        for c in agent.changes
        if isinstance(c, ReplaceDocument)
        and c.doc_type is DocType.TEXT
        and (spec := specs.get(c.key)) is not None
        and spec.content_known
    ]
    if not wanted:
        return agent
    workers = max(1, min(concurrency, len(wanted)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kbctl-diff") as pool:
        lives = list(pool.map(lambda c: _live_text(c, read, local), wanted))
    diffs: dict[str, str] = {}
    for change, live in zip(wanted, lives, strict=True):
        if live is None:
            continue
        declared = specs[change.key].content.decode("utf-8", errors="replace")
        # Document content goes to terminals, comments and files: never with a known secret.
        diffs[change.key] = redact(unified_diff(live, declared, change.key))
    return replace(agent, changes=tuple(_with_diff(c, diffs) for c in agent.changes))


def _with_diff(change: DocumentChange, diffs: dict[str, str]) -> DocumentChange:
    if isinstance(change, ReplaceDocument) and change.key in diffs:
        return replace(change, diff=diffs[change.key])
    return change


def _live_text(
    change: ReplaceDocument,
    read: Callable[[str], bytes],
    local: Callable[[str], bytes | None] | None,
) -> str | None:
    """The live text: from `local` when the marker's content is stored there, else read."""
    if local is not None and change.reason is ReplaceReason.CONTENT:
        hash12 = next((f.before for f in change.fields if f.field == "content_hash"), None)
        stored = local(hash12) if hash12 else None
        if stored is not None:
            return canonical_text(stored.decode("utf-8", errors="replace")).decode("utf-8")
    return _read_text(read, change.live_id)


def _read_text(read: Callable[[str], bytes], doc_id: str) -> str | None:
    """The live text, or None when it cannot be read (gone, refused): no diff then."""
    try:
        raw = read(doc_id)
    except KbctlError:
        return None
    return canonical_text(raw.decode("utf-8", errors="replace")).decode("utf-8")


def without_diffs(changes: Sequence[DocumentChange]) -> tuple[DocumentChange, ...]:
    """The changes with their diffs dropped: what apply does does not depend on them."""
    return tuple(
        replace(c, diff=None) if isinstance(c, ReplaceDocument) and c.diff is not None else c
        for c in changes
    )
