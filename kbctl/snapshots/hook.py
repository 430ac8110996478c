"""The apply hook that writes snapshots: "before" ahead of the first change, "after" at the end.

`SnapshotHook` implements `kbctl.apply.types.ApplyHook`: it records the agent, its RAG settings
and its `knowledge_base`, with every managed document's content stored as a blob by
`kbctl.snapshots.capture`, plus the run's outcome and what it did.

`SnapshotHook.events(inner)` wraps the CLI's progress events so that, while the run goes on, an
"after" checkpoint (`outcome: in_progress`) is rewritten atomically after every change: a run
killed half-way still leaves a valid snapshot saying what it had done.

Must not print, read the environment or decide anything about the apply itself.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kbctl.apply.events import (
    AgentUpdated,
    ApplyEvent,
    DocumentCreated,
    DocumentDeleted,
    DocumentKept,
    EventSink,
)
from kbctl.apply.types import ApplyResult
from kbctl.checks.report import ChecksReport
from kbctl.clock import Clock, utc_iso
from kbctl.model import (
    LiveState,
    RagSettings,
    Target,
)
from kbctl.plan.types import AgentPlan
from kbctl.provider.base import Provider
from kbctl.snapshots.capture import ContentCapture
from kbctl.snapshots.codec import snapshot_id
from kbctl.snapshots.outcome import checks_of, outcome_of
from kbctl.snapshots.record import (
    IN_PROGRESS,
    PENDING,
    Done,
    Snapshot,
    SnapshotAgent,
    SnapshotEntry,
    SnapshotKind,
)
from kbctl.snapshots.store import Base, SnapshotStore

#: Roughly how many times a run rewrites its in-progress "after" checkpoint.
CHECKPOINTS_PER_RUN = 50


class SnapshotHook:
    """Writes the before/after snapshots of one agent's apply (or rollback).

    Args:
        store: where snapshots and blobs go.
        clock: the time written into `created_at`.
        provider: reads the content of text documents no spec or blob holds.
        git_commit: the repository's commit, when known (read at the CLI edge).
        operation: "apply", "rollback" or "promote".
        rollback_of: the id of the snapshot a rollback restores.
    """

    def __init__(
        self,
        store: SnapshotStore,
        clock: Clock,
        provider: Provider,
        *,
        git_commit: str | None = None,
        operation: str = "apply",
        rollback_of: str | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.provider = provider
        self.git_commit = git_commit
        self.operation = operation
        self.rollback_of = rollback_of
        self.written: list[tuple[Snapshot, Path]] = []
        self._content = ContentCapture(store, provider)
        self._target: Target | None = None
        self._plan: AgentPlan | None = None
        self._before: Snapshot | None = None
        self._base: Base | None = None  # the newest finished record before the run
        self._checkpoint: Path | None = None
        self._unwritten = 0  # changes seen since the last checkpoint rewrite
        self._progress = _Progress()
        self._intended_memo: tuple[int, tuple[SnapshotEntry, ...]] | None = None
        self._seq: int | None = None

    # ----------------------------------------------------------------------------- the hook

    def before(self, target: Target, live: LiveState, plan: AgentPlan) -> None:
        """Write the "before" snapshot: the live state the run starts from."""
        self._target, self._plan = target, plan
        # The newest finished record before the run holds the contents of the documents the
        # manifest no longer has (the old versions of those the run replaces).
        self._base = self.store.latest_base(target.environment, live.agent.id)
        if self._base is not None:
            self._content.recent(self._base.knowledge_base)
        entries, notes = self._content.entries(target, live.agent.knowledge_base, live.documents)
        snapshot = self._build(
            target,
            plan,
            SnapshotKind.BEFORE,
            live_agent=SnapshotAgent(live.agent.id, live.agent.version_id, live.agent.branch_id),
            rag=live.agent.rag,
            knowledge_base=entries,
            outcome=PENDING,
            done=Done(),
            notes=notes,
            apply_id=None,
        )
        self._before = snapshot
        self._write(snapshot)

    def after(
        self,
        target: Target,
        plan: AgentPlan,
        result: ApplyResult,
        live_after: LiveState | None,
    ) -> None:
        """Write the "after" snapshot: the state the run left, its outcome and what it did."""
        done = Done(
            created=tuple(d.id for d in result.created),
            reused=tuple(d.id for d in result.reused),
            deleted=tuple(d.id for d in result.deleted),
            kept=tuple(d.id for d in result.kept),
            agent_updated=result.agent_updated,
        )
        notes = [f"kept {d.key} ({d.id}): {d.note}" for d in result.kept if d.note]
        notes += list(result.warnings)
        if live_after is not None:
            entries, captured_notes = self._content.entries(
                target, live_after.agent.knowledge_base, live_after.documents
            )
            notes += captured_notes
            agent = SnapshotAgent(
                live_after.agent.id, live_after.agent.version_id, live_after.agent.branch_id
            )
            rag = live_after.agent.rag
            knowledge_base: tuple[SnapshotEntry, ...] | None = entries
        else:
            notes.append("the live state could not be read after the run: knowledge_base unknown")
            before = self._before
            agent = (
                before.agent
                if before is not None
                else SnapshotAgent(result.agent_id, result.version_id, None)
            )
            if result.version_id is not None:
                agent = replace(agent, version_id=result.version_id)
            rag = before.rag if before is not None else target.rag
            knowledge_base = None
        snapshot = self._build(
            target,
            plan,
            SnapshotKind.AFTER,
            live_agent=agent,
            rag=rag,
            knowledge_base=knowledge_base,
            outcome=outcome_of(result),
            done=done,
            notes=tuple(notes),
            apply_id=self._apply_id(),
            checks=checks_of(result),
        )
        self._write(snapshot, supersedes=self._checkpoint)
        self._checkpoint = None

    def watch(self, events: EventSink) -> EventSink:
        """`events`, plus an "after" checkpoint rewritten after every change of the run."""
        return _checkpointing(self, events)

    # ----------------------------------------------------------------------------- results

    @property
    def before_snapshot(self) -> Snapshot | None:
        """The "before" snapshot written, if any."""
        return self._before

    @property
    def after_snapshot(self) -> Snapshot | None:
        """The final "after" snapshot written, if any."""
        for snapshot, _path in reversed(self.written):
            if snapshot.kind is SnapshotKind.AFTER and snapshot.outcome != IN_PROGRESS:
                return snapshot
        return None

    # ----------------------------------------------------------------------------- checkpoints

    def checkpoint(self, *, force: bool = False) -> None:
        """Rewrite the "after" checkpoint from the progress seen so far (no API calls).

        Each rewrite costs O(documents), so a large run rewrites it every `stride` changes
        (about CHECKPOINTS_PER_RUN times in all); the agent update always forces one. A kill
        between two rewrites loses at most stride-1 recorded uploads, which stay findable as
        managed orphans that the next apply reuses.
        """
        target, plan, before = self._target, self._plan, self._before
        if target is None or plan is None or before is None:
            return
        self._unwritten += 1
        stride = max(1, (len(plan.changes) + len(plan.deletions)) // CHECKPOINTS_PER_RUN)
        if not force and self._unwritten < stride:
            return
        self._unwritten = 0
        progress = self._progress
        knowledge_base: tuple[SnapshotEntry, ...] | None = before.knowledge_base
        notes = ["the run has not finished: this records what it had done so far"]
        if progress.agent_updated:
            knowledge_base = self._intended(target, plan)
            notes.append("knowledge_base: as this run wrote it (not read back)")
        snapshot = self._build(
            target,
            plan,
            SnapshotKind.AFTER,
            live_agent=replace(before.agent, version_id=progress.version_id)
            if progress.version_id
            else before.agent,
            rag=before.rag,
            knowledge_base=knowledge_base,
            outcome=IN_PROGRESS,
            done=Done(
                created=tuple(progress.created.values()),
                reused=tuple(progress.reused.values()),
                deleted=tuple(progress.deleted),
                kept=tuple(progress.kept),
                agent_updated=progress.agent_updated,
            ),
            notes=tuple(notes),
            apply_id=self._apply_id(),
        )
        self._checkpoint = self._write(snapshot, supersedes=self._checkpoint, durable=False)

    def _intended(self, target: Target, plan: AgentPlan) -> tuple[SnapshotEntry, ...]:
        """The array the run wrote, with the ids it created (for a checkpoint after the swap;
        the same value while no upload is added, so it is chunked once)."""
        uploads = len(self._progress.created) + len(self._progress.reused)
        if self._intended_memo is not None and self._intended_memo[0] == uploads:
            return self._intended_memo[1]
        found = self._intended_now(target, plan)
        self._intended_memo = (uploads, found)
        return found

    def _intended_now(self, target: Target, plan: AgentPlan) -> tuple[SnapshotEntry, ...]:
        specs = self._content.specs(target)
        self._content.store_contents(specs.get(i.key) for i in plan.knowledge_base if i.key)
        ids = {**self._progress.reused, **self._progress.created}
        out: list[SnapshotEntry] = []
        for item in plan.knowledge_base:
            doc_id = item.id or (ids.get(item.key) if item.key else None) or "?"
            spec = specs.get(item.key) if item.key is not None else None
            if spec is None:
                out.append(
                    SnapshotEntry(
                        doc_id, item.name, item.doc_type, item.usage_mode, item.key, None, False
                    )
                )
                continue
            out.append(self._content.from_spec(doc_id, item.name, item.usage_mode, spec, None))
        return tuple(out)

    def uploaded(self, key: str) -> None:
        """A document of the run was uploaded (or reused): store its blob in the background,
        so the checkpoint at the swap finds it written."""
        if self._target is not None:
            self._content.stage(self._content.specs(self._target).get(key))

    # ----------------------------------------------------------------------------- writing

    def _next_seq(self, environment: str) -> int:
        """Read the folder once; then count on (checkpoints write often)."""
        self._seq = self.store.next_seq(environment) if self._seq is None else self._seq + 1
        return self._seq

    def _apply_id(self) -> str | None:
        return self._before.id if self._before is not None else None

    def _build(
        self,
        target: Target,
        plan: AgentPlan,
        kind: SnapshotKind,
        *,
        live_agent: SnapshotAgent,
        rag: RagSettings,
        knowledge_base: tuple[SnapshotEntry, ...] | None,
        outcome: str,
        done: Done,
        notes: tuple[str, ...],
        apply_id: str | None,
        checks: dict[str, ChecksReport] | None = None,
    ) -> Snapshot:
        summary = plan.summary
        draft = Snapshot(
            id="",
            environment=target.environment,
            project=target.project,
            manifest=target.manifest,
            kind=kind,
            created_at=utc_iso(self.clock.now()),
            apply_id=apply_id or "",
            seq=self._next_seq(target.environment),
            git_commit=self.git_commit,
            operation=self.operation,
            rollback_of=self.rollback_of,
            agent=live_agent,
            rag=rag,
            knowledge_base=knowledge_base,
            outcome=outcome,
            done=done,
            plan_summary={
                "create": summary.create,
                "replace": summary.replace,
                "update": summary.update,
                "delete": summary.delete,
                "noop": summary.noop,
                "rag": len(plan.rag_changes),
            },
            notes=notes,
            checks=checks or {},
        )
        ident = snapshot_id(draft, self.store.texts)
        return replace(draft, id=ident, apply_id=apply_id or ident)

    def _write(
        self,
        snapshot: Snapshot,
        supersedes: Path | None = None,
        *,
        durable: bool = True,
    ) -> Path:
        path = (
            self.store.write(snapshot, durable=durable)
            if supersedes is None
            else self.store.replace(supersedes, snapshot, durable=durable)
        )
        self.written = [(s, p) for s, p in self.written if p != supersedes]
        self.written.append((snapshot, path))
        return path


class _Progress:
    """What the run did so far, as the events tell it."""

    def __init__(self) -> None:
        self.created: dict[str, str] = {}
        self.reused: dict[str, str] = {}
        self.deleted: list[str] = []
        self.kept: list[str] = []
        self.agent_updated = False
        self.version_id: str | None = None


def _checkpointing(hook: SnapshotHook, inner: EventSink) -> EventSink:
    """`inner`, after which each change of the run rewrites the hook's "after" checkpoint."""
    progress = hook._progress

    def sink(event: ApplyEvent) -> None:
        match event:
            case DocumentCreated(key=key, doc_id=doc_id, reused=reused):
                (progress.reused if reused else progress.created)[key] = doc_id
                hook.uploaded(key)
                hook.checkpoint()
            case AgentUpdated(version_id=version_id):
                progress.agent_updated = True
                progress.version_id = version_id
                hook.checkpoint(force=True)
            case DocumentDeleted(doc_id=doc_id):
                progress.deleted.append(doc_id)
                hook.checkpoint()
            case DocumentKept(doc_id=doc_id):
                progress.kept.append(doc_id)
            case _:
                pass
        inner(event)

    return sink
