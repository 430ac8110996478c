"""`status`, `check`, `snapshots list/show` and `import_agent` as functions returning values.

Read-mostly commands: they read the live workspace or the snapshot store through the session
and return reports for `kbctl.render` to draw. `check_verdict` decides when checks fail a run
(exit 3); `import_agent` writes a manifest and adopts documents by renaming them, uploading
nothing; `import_store` does the same for an OpenAI vector store (its files' attributes are
written in place). Never prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from kbctl.checks import (
    ChecksReport,
    RagQueryRetriever,
    RetrieverChoice,
    SearchRetriever,
    live_documents,
    make_retriever,
    run_checks,
)
from kbctl.checks.gate import failure_lines, shortfall
from kbctl.commands.rollouts import canary_line
from kbctl.commands.session import DEFAULT_BASE_URL, Endpoint, Session, load_targets
from kbctl.errors import ChecksFailedError, SnapshotError, UsageError
from kbctl.importer import ImportResult, check_output_dir
from kbctl.importer import import_agent as run_import
from kbctl.importer import import_store as run_store_import
from kbctl.manifest import OPENAI_API_KEY_ENV, OPENAI_BASE_URL
from kbctl.model import ProviderKind, Target
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.openai import OpenAIProvider
from kbctl.snapshots.catalog import SnapshotSummary
from kbctl.snapshots.compare import SnapshotDiff, compare_snapshots
from kbctl.snapshots.record import Snapshot
from kbctl.snapshots.store import SnapshotStore
from kbctl.status import AgentStatus, collect_status


def status(
    session: Session, environment: str, files: Sequence[str | Path] = (), *, concurrency: int = 4
) -> tuple[AgentStatus, ...]:
    """Each agent's live documents, index status, quota use and drift from the manifest."""
    reports: list[AgentStatus] = []
    for target in load_targets(session, files, environment):
        with session.open(target, concurrency=concurrency) as handle:
            report = collect_status(target, handle.provider, concurrency=concurrency)
            if target.rollout.staged:
                report = replace(report, rollout=canary_line(handle, target))
            reports.append(report)
    return tuple(reports)


@dataclass(frozen=True, slots=True)
class CheckRun:
    """One target's retrieval checks: the target, its agent's name and the report."""

    target: Target
    agent_name: str
    report: ChecksReport


def check(
    session: Session,
    environment: str,
    files: Sequence[str | Path] = (),
    *,
    retriever: RetrieverChoice = RetrieverChoice.AUTO,
) -> tuple[CheckRun, ...]:
    """Run every target's retrieval checks against the documents its live agent has.

    `retriever`: `auto` (the agent's rag-query, else the content search, with a note in the
    report), `rag-query` or `search`. The report says which one produced the numbers.
    """
    runs: list[CheckRun] = []
    for target in load_targets(session, files, environment):
        if not target.checks:
            runs.append(CheckRun(target, "", ChecksReport((), target.checks_policy)))
            continue
        with session.open(target) as handle:
            live = handle.provider.read_state(
                target.agent_id, target.project, target.environment, with_quota=False
            )
            report = run_checks(
                target.checks,
                live_documents(live),
                make_retriever(
                    retriever,
                    handle.provider,
                    RagQueryRetriever(handle.branches, target.agent_id),
                )
                if handle.has_agent
                else SearchRetriever(handle.provider),  # a vector store: its search retrieves
                policy=target.checks_policy,
            )
        runs.append(CheckRun(target, live.agent.name, report))
    return tuple(runs)


def check_verdict(
    environment: str, runs: Sequence[CheckRun], *, detailed: bool = False
) -> ChecksFailedError | None:
    """The exit-3 error when a target falls short; None when all meet.

    Plain `kbctl check` fails below `min_coverage` (its contract since the first release);
    `detailed` (`--detailed-exitcode`) fails below any threshold, `min_coverage_at_1` too.
    """
    short = [r for r in runs if not (r.report.meets if detailed else r.report.meets_coverage)]
    if not short:
        return None
    return ChecksFailedError(
        f"Retrieval checks below {'a threshold' if detailed else 'min_coverage'} for {environment}",
        detail="\n".join(
            line
            for r in short
            for line in (
                f"{r.target.project}/{r.target.environment}: {shortfall(r.report)}",
                *failure_lines(r.report),
            )
        ),
        hint="Make the expected documents say what the query asks (or fix the checks), "
        "apply, and run kbctl check again.",
    )


def threshold_warnings(runs: Sequence[CheckRun]) -> list[str]:
    """Targets that reach `min_coverage` but not `min_coverage_at_1` (plain check exits 0)."""
    return [
        f"{r.target.project}/{r.target.environment}: {shortfall(r.report)}; "
        "kbctl check --detailed-exitcode exits 3 for this"
        for r in runs
        if r.report.meets_coverage and not r.report.meets_at_1
    ]


def list_snapshots(session: Session, environment: str) -> tuple[SnapshotSummary, ...]:
    """The snapshots of one environment, newest first (unreadable ones included, marked),
    from the folder's index: a record is parsed only the first time it is seen. For a
    snapshot's content, `show_snapshot` its id."""
    return SnapshotStore(session.snapshot_folder()).summaries(environment)


@dataclass(frozen=True, slots=True)
class ShownSnapshot:
    """A snapshot and whether it can be restored (every managed document's blob verified)."""

    snapshot: Snapshot
    restorable: bool
    why_not: str | None = None


def show_snapshot(session: Session, snapshot_id: str) -> ShownSnapshot:
    """One snapshot, with its blobs verified."""
    store = SnapshotStore(session.snapshot_folder())
    snapshot = store.load(snapshot_id)
    try:
        store.verify(snapshot)
    except SnapshotError as err:
        return ShownSnapshot(snapshot, False, err.summary)
    return ShownSnapshot(snapshot, True)


def diff_snapshots(session: Session, a: str, b: str, *, content: bool = True) -> SnapshotDiff:
    """What changed from snapshot `a` to snapshot `b` (ids, file names or paths): documents
    added, removed and changed (with a content diff of text documents from their blobs, unless
    `content` is False) and RAG settings, field by field."""
    store = SnapshotStore(session.snapshot_folder())
    first, second = store.load(a), store.load(b)
    return compare_snapshots(first, second, store.read_blob if content else None)


def import_agent(
    session: Session,
    environment: str,
    agent_id: str,
    out_dir: str | Path,
    *,
    project: str | None = None,
    base_url: str | None = None,
    api_key_env: str = "ELEVENLABS_API_KEY",
    force: bool = False,
) -> ImportResult:
    """Write a manifest and the documents of an existing agent, and adopt the documents."""
    out = session.path(out_dir)
    check_output_dir(out, force=force)
    url = base_url or session.environ.get("ELEVENLABS_BASE_URL") or DEFAULT_BASE_URL
    with session.open(Endpoint(url, api_key_env, agent_id)) as handle:
        provider = handle.provider
        if not isinstance(provider, ElevenLabsProvider):
            raise UsageError(
                "kbctl import --agent-id reads ElevenLabs agents",
                hint="Import an OpenAI vector store with --vector-store-id or --vector-store-name.",
            )
        return run_import(
            provider,
            environment=environment,
            agent_id=agent_id,
            out_dir=out,
            project=project,
            base_url=base_url,
            api_key_env=api_key_env,
            force=force,
        )


def import_store(
    session: Session,
    environment: str,
    out_dir: str | Path,
    *,
    vector_store_id: str | None = None,
    vector_store_name: str | None = None,
    project: str | None = None,
    base_url: str | None = None,
    api_key_env: str = OPENAI_API_KEY_ENV,
    docs_dir: str = "docs",
    force: bool = False,
) -> ImportResult:
    """Write a manifest, the documents and their metadata sidecars of an OpenAI vector store
    (by id or by name), and adopt its files in place (attributes written, nothing uploaded)."""
    if (vector_store_id is None) == (vector_store_name is None):
        raise UsageError(
            "Name the vector store to import: its id or its name (one of them)",
            hint="Pass vector_store_id='vs_…' or vector_store_name='…'.",
        )
    if vector_store_id is not None and not vector_store_id.startswith("vs_"):
        raise UsageError(
            f"{vector_store_id!r} is not a vector store id", hint="Store ids start with vs_."
        )
    out = session.path(out_dir)
    check_output_dir(out, force=force)
    url = base_url or session.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL
    ref = vector_store_id or vector_store_name or ""
    with session.open(Endpoint(url, api_key_env, ref, ProviderKind.OPENAI)) as handle:
        provider = handle.provider
        assert isinstance(provider, OpenAIProvider)
        return run_store_import(
            provider,
            environment=environment,
            out_dir=out,
            project=project,
            docs_dir=docs_dir,
            base_url=base_url,
            api_key_env=api_key_env,
            by_name=vector_store_name is not None,
        )
