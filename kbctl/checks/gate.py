"""The retrieval gate of apply: the words and the error for checks that fall short.

Apply runs the checks twice (`CheckStage`): before the swap, against the documents the agent is
about to have, where a report below `min_coverage` with `on_failure: abort` stops the run like
a failed index gate (exit 3, agent unchanged); and after the swap, against what it now has,
where the result is only reported. The executor does the calls and the cleanup; this module only
builds the messages and the `IndexGateError`, so it never touches the API.
"""

from __future__ import annotations

from enum import StrEnum

from kbctl.checks.report import ChecksReport
from kbctl.errors import IndexGateError
from kbctl.wording import AGENT, Wording

#: Failing checks named one by one in messages; the rest are counted.
MAX_LISTED = 20


class CheckStage(StrEnum):
    """When apply ran the checks."""

    BEFORE_SWAP = "before_swap"  # the documents the agent is about to have; may stop the run
    AFTER_SWAP = "after_swap"  # the documents the agent now has; reported only


def failure_lines(report: ChecksReport) -> list[str]:
    """`- 'query': expected …; retrieved …` for each failing check (at most `MAX_LISTED`)."""
    failures = report.failures
    lines = [f"- {r.describe()}" for r in failures[:MAX_LISTED]]
    if len(failures) > MAX_LISTED:
        lines.append(f"- and {len(failures) - MAX_LISTED} more failing check(s)")
    return lines


def retriever_line(report: ChecksReport) -> str:
    """`Retriever: rag-query.` (with the fallback note, when there was one)."""
    note = f" ({report.retriever_note})" if report.retriever_note else ""
    return f"Retriever: {report.retriever}{note}."


def shortfall(report: ChecksReport) -> str:
    """`2 of 6 retrieval checks failed (Coverage@3 67% < min_coverage 80%)`, and/or
    `Coverage@1 50% < min_coverage_at_1 60%`."""
    below: list[str] = []
    if not report.meets_coverage or report.meets:
        below.append(
            f"Coverage{report.k_label} {report.coverage_at_k:.0%} < "
            f"min_coverage {report.policy.min_coverage:.0%}"
        )
    if not report.meets_at_1 and report.policy.min_coverage_at_1 is not None:
        below.append(
            f"Coverage@1 {report.coverage_at_1:.0%} < "
            f"min_coverage_at_1 {report.policy.min_coverage_at_1:.0%}"
        )
    return (
        f"{len(report.failures)} of {report.total} retrieval check(s) failed ({'; '.join(below)})"
    )


def warning_text(stage: CheckStage, report: ChecksReport, words: Wording = AGENT) -> str:
    """The one-line warning apply reports when it goes on despite failing checks."""
    if stage is CheckStage.AFTER_SWAP:
        head = f"after the swap, {shortfall(report)}"
    else:
        head = f"{shortfall(report)}; on_failure is warn, so {words.the} is switched anyway"
    failures = report.failures
    queries = ", ".join(repr(r.query) for r in failures[:MAX_LISTED])
    more = f" and {len(failures) - MAX_LISTED} more" if len(failures) > MAX_LISTED else ""
    return f"{head}. Failing: {queries}{more}"


def checks_gate_error(
    where: str,
    report: ChecksReport,
    *,
    deleted: int,
    cleanup_problems: list[str],
    words: Wording = AGENT,
) -> IndexGateError:
    """The exit-3 error: every failing query, its expected keys and what was retrieved instead."""
    removed = (
        f"the {deleted} document(s) this run created were deleted"
        if deleted
        else "nothing was left behind"
    )
    if cleanup_problems:
        removed = "some documents this run created could not be deleted (the next apply does it)"
    lines = [
        retriever_line(report),
        *failure_lines(report),
        *(f"- {problem}" for problem in cleanup_problems),
    ]
    return IndexGateError(
        f"Apply stopped at the retrieval checks for {where}: {shortfall(report)}",
        detail="\n".join(lines),
        hint=(
            f"{words.the_title} was not changed; {removed}. Fix the documents (or the checks), "
            f"then run kbctl apply again; `kbctl check` shows the figures for the live "
            f"{words.short}, and "
            "checks_policy.on_failure: warn lets apply go on."
        ),
    )
