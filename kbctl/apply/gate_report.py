"""What the index gate reports: the documents that did not pass, the ones the API called too
small, and the exit-3 error built from them.

Pure values and text; the gate (`kbctl.apply.gate`) fills them in, the executor raises the error.
"""

from __future__ import annotations

from dataclasses import dataclass

from kbctl.apply.remedies import GateReason, remedy
from kbctl.errors import IndexGateError
from kbctl.model import IndexStatus, SmallDocumentPolicy
from kbctl.wording import AGENT, Wording


@dataclass(frozen=True, slots=True)
class GateFailure:
    """One document that did not pass the gate."""

    key: str
    doc_id: str
    reason: IndexStatus | GateReason
    reported: str = ""  # the last status the API named (for a timeout: what it was still)
    policy: SmallDocumentPolicy = SmallDocumentPolicy.FAIL

    @property
    def remedy(self) -> str:
        """What to do about it."""
        return remedy(self.reason, self.policy, self.reported)

    @property
    def label(self) -> str:
        """The reason, with the status a timeout was still in."""
        if self.reason is GateReason.TIMEOUT and self.reported:
            return f"timeout (still {self.reported})"
        return self.reason.value


@dataclass(frozen=True, slots=True)
class SmallDocument:
    """A document the API answered `document_too_small` for, under policy prompt or skip."""

    key: str
    doc_id: str


def gate_error(
    where: str,
    failures: list[GateFailure],
    *,
    tracked: int,
    deleted: int,
    cleanup_problems: list[str],
    words: Wording = AGENT,
) -> IndexGateError:
    """The exit-3 error: each failing document with its status and what to do."""
    failed = [f for f in failures if f.reason is not GateReason.NOT_WAITED]
    waited = [f for f in failures if f.reason is GateReason.NOT_WAITED]
    lines = [f"- {f.key}: {f.label} — {f.remedy}" for f in failed]
    if waited:
        keys = ", ".join(f.key for f in waited[:10])
        more = f" and {len(waited) - 10} more" if len(waited) > 10 else ""
        lines.append(f"- not waited for ({len(waited)}): {keys}{more}")
    lines.extend(f"- {problem}" for problem in cleanup_problems)
    removed = (
        f"the {deleted} document(s) this run created were deleted"
        if deleted
        else ("nothing was left behind")
    )
    if cleanup_problems:
        removed = "some documents this run created could not be deleted (the next apply does it)"
    return IndexGateError(
        f"Apply stopped at the index gate for {where}: "
        f"{len(failed)} of {tracked} document(s) did not index",
        detail="\n".join(lines),
        hint=(
            f"{words.the_title} was not changed; {removed}. "
            "Fix the cause above, then run kbctl apply again."
        ),
    )
