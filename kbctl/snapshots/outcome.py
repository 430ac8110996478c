"""The outcome an "after" snapshot records for an apply result, and its retrieval checks.

Pure: maps `ApplyResult` values to the record's `outcome` text and `checks` by stage.
"""

from __future__ import annotations

from typing import assert_never

from kbctl.apply.types import ApplyResult, Outcome
from kbctl.checks.gate import CheckStage
from kbctl.checks.report import ChecksReport
from kbctl.snapshots.record import (
    APPLIED,
    CONCURRENT_CHANGE,
    FAILED,
    INDEX_GATE,
    INTERRUPTED,
    NO_CHANGES,
)


def checks_of(result: ApplyResult) -> dict[str, ChecksReport]:
    """The run's retrieval check reports by stage (empty when it ran none)."""
    stages = (
        (CheckStage.BEFORE_SWAP, result.checks_before_swap),
        (CheckStage.AFTER_SWAP, result.checks),
    )
    return {stage.value: report for stage, report in stages if report is not None}


def outcome_of(result: ApplyResult) -> str:
    """The snapshot outcome of an apply result."""
    match result.outcome:
        case Outcome.APPLIED:
            changed = (
                result.agent_updated
                or result.created
                or result.reused
                or result.renamed
                or result.deleted
            )
            return APPLIED if changed else NO_CHANGES
        case Outcome.GATE_FAILED:
            return INDEX_GATE
        case Outcome.CONCURRENT_CHANGE:
            return CONCURRENT_CHANGE
        case Outcome.FAILED:
            return f"{FAILED}: {result.error or 'unknown error'}"
        case Outcome.INTERRUPTED:
            return INTERRUPTED
        case _:
            assert_never(result.outcome)
