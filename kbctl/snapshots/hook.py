"""The apply hook that writes snapshots: "before" ahead of the first change, "after" at the end.

`SnapshotHook` implements `kbctl.apply.types.ApplyHook`. For every managed document attached to
the agent it stores the content as a blob, taken (cheapest first) from the target's own specs
when key and hash match, from a blob an earlier snapshot stored, or, for text documents, from the
content endpoint (checked against the marker's hash). What cannot be captured (an uploaded file
the API cannot give back) is said in the snapshot's `notes`; a rollback then needs that document
to still exist.

`SnapshotHook.events(inner)` wraps the CLI's progress events so that, while the run goes on, an
"after" checkpoint (`outcome: in_progress`) is rewritten atomically after every change: a run
killed half-way still leaves a valid snapshot saying what it had done.

Must not print, read the environment or decide anything about the apply itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import assert_never

from kbctl.apply.events import ApplyEvents, Phase
from kbctl.apply.types import ApplyResult, Outcome
from kbctl.clock import Clock, utc_iso
from kbctl.errors import ApiError
from kbctl.identity import HASH_CHARS, canonical_text, content_hash, parse_marker
from kbctl.model import (
    DocType,
    DocumentSpec,
    IndexStatus,
    KbEntry,
    LiveDocument,
    LiveState,
    Marker,
    RagSettings,
    Target,
    UsageMode,
)
from kbctl.plan.types import AgentPlan
from kbctl.provider.base import Provider
from kbctl.snapshots.record import (
    APPLIED,
    CONCURRENT_CHANGE,
    FAILED,
    IN_PROGRESS,
    INDEX_GATE,
    NO_CHANGES,
    PENDING,
    Done,
    Snapshot,
    SnapshotAgent,
    SnapshotEntry,
    SnapshotKind,
    snapshot_id,
)
from kbctl.snapshots.store import SnapshotStore


class SnapshotHook:
    """Writes the before/after snapshots of one agent's apply (or rollback).

    Args:
        store: where snapshots and blobs go.
        clock: the time written into `created_at`.
        provider: reads the content of text documents no spec or blob holds.
        git_commit: the repository's commit, when known (read at the CLI edge).
        operation: "apply" or "rollback".
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
        self._index: dict[tuple[str, str, DocType], SnapshotEntry] | None = None
        self._target: Target | None = None
        self._plan: AgentPlan | None = None
        self._before: Snapshot | None = None
        self._before_notes: tuple[str, ...] = ()
        self._checkpoint: Path | None = None
        self._progress = _Progress()
        self._seq: int | None = None

    # ----------------------------------------------------------------------------- the hook

    def before(self, target: Target, live: LiveState, plan: AgentPlan) -> None:
        """Write the "before" snapshot: the live state the run starts from."""
        self._target, self._plan = target, plan
        entries, notes = self._capture(target, live.agent.knowledge_base, live.documents)
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
        self._before_notes = notes
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
            entries, captured_notes = self._capture(
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
            outcome=_outcome(result),
            done=done,
            notes=tuple(notes),
            apply_id=self._apply_id(),
        )
        self._write(snapshot, supersedes=self._checkpoint)
        self._checkpoint = None

    def events(self, inner: ApplyEvents) -> ApplyEvents:
        """`inner`, plus an "after" checkpoint rewritten after every change of the run."""
        return _CheckpointEvents(self, inner)

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

    def checkpoint(self) -> None:
        """Rewrite the "after" checkpoint from the progress seen so far (no API calls)."""
        target, plan, before = self._target, self._plan, self._before
        if target is None or plan is None or before is None:
            return
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
        self._checkpoint = self._write(snapshot, supersedes=self._checkpoint)

    def _intended(self, target: Target, plan: AgentPlan) -> tuple[SnapshotEntry, ...]:
        """The array the run wrote, with the ids it created (for a checkpoint after the swap)."""
        specs = _genuine(target)
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
            out.append(self._from_spec(doc_id, item.name, item.usage_mode, spec, None))
        return tuple(out)

    # ----------------------------------------------------------------------------- capture

    def _capture(
        self,
        target: Target,
        knowledge_base: Iterable[KbEntry],
        documents: Iterable[LiveDocument],
    ) -> tuple[tuple[SnapshotEntry, ...], tuple[str, ...]]:
        """The snapshot entries of an agent's array, storing every managed content as a blob."""
        by_id = {d.id: d for d in documents}
        specs = _genuine(target)
        entries: list[SnapshotEntry] = []
        notes: list[str] = []
        seen: set[str] = set()
        for entry in knowledge_base:
            if entry.id in seen:
                continue
            seen.add(entry.id)
            doc = by_id.get(entry.id)
            name = doc.name if doc is not None else entry.name
            size = doc.size_bytes if doc is not None and doc.size_bytes else None
            marker = _managed(target, doc.marker if doc is not None else None, name)
            if marker is None:
                entries.append(
                    SnapshotEntry(
                        entry.id,
                        name,
                        entry.doc_type,
                        entry.usage_mode,
                        None,
                        None,
                        False,
                        size_bytes=size,
                    )
                )
                continue
            spec = specs.get(marker.key)
            if (
                spec is not None
                and spec.content_hash[:HASH_CHARS] == marker.hash12
                and spec.doc_type is entry.doc_type
            ):
                entries.append(self._from_spec(entry.id, name, entry.usage_mode, spec, size))
                continue
            known = self._known().get((marker.key, marker.hash12, entry.doc_type))
            if known is not None:
                entries.append(
                    replace(
                        known, id=entry.id, name=name, usage_mode=entry.usage_mode, size_bytes=size
                    )
                )
                continue
            fetched, note = self._fetch(entry, marker)
            if note:
                notes.append(note)
            entries.append(
                SnapshotEntry(
                    entry.id,
                    name,
                    entry.doc_type,
                    entry.usage_mode,
                    marker.key,
                    fetched[0] if fetched else None,
                    True,
                    blob=fetched[1] if fetched else None,
                    size_bytes=size,
                )
            )
        return tuple(entries), tuple(notes)

    def _from_spec(
        self,
        doc_id: str,
        name: str,
        usage_mode: UsageMode,
        spec: DocumentSpec,
        size: int | None,
    ) -> SnapshotEntry:
        blob = None if spec.doc_type is DocType.URL else self.store.put_blob(spec.content)
        return SnapshotEntry(
            doc_id,
            name,
            spec.doc_type,
            usage_mode,
            spec.key,
            spec.content_hash,
            True,
            blob=blob,
            url=spec.url if spec.doc_type is DocType.URL else None,
            filename=spec.filename,
            size_bytes=size if size is not None else (spec.size_bytes or None),
        )

    def _fetch(self, entry: KbEntry, marker: Marker) -> tuple[tuple[str, str] | None, str]:
        """(content hash, blob) of a text document read from the API, or a note why not."""
        label = f"{marker.key} ({entry.id})"
        if entry.doc_type is not DocType.TEXT:
            what = "the original file" if entry.doc_type is DocType.FILE else "its URL"
            return None, (
                f"{label}: content not captured (the API cannot give back {what}); "
                "a rollback can keep it but not re-create it"
            )
        try:
            raw = self.provider.document_content(entry.id)
            data = canonical_text(raw.decode("utf-8"))
        except (ApiError, UnicodeDecodeError) as err:
            return None, f"{label}: content not captured ({err})"
        digest = content_hash(DocType.TEXT, data)
        if digest[:HASH_CHARS] != marker.hash12:
            return None, (
                f"{label}: content not captured (the content endpoint returned text whose hash "
                f"{digest[:HASH_CHARS]} is not the marker's {marker.hash12})"
            )
        return (digest, self.store.put_blob(data)), ""

    def _known(self) -> dict[tuple[str, str, DocType], SnapshotEntry]:
        """Contents earlier snapshots captured, by (key, hash12, type)."""
        if self._index is None:
            self._index = {}
            for digest, entry in self.store.content_index().items():
                if entry.key is None:
                    continue
                if entry.blob is not None and not self.store.has_blob(entry.blob):
                    continue
                self._index.setdefault((entry.key, digest[:HASH_CHARS], entry.doc_type), entry)
        return self._index

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
        )
        ident = snapshot_id(draft)
        return replace(draft, id=ident, apply_id=apply_id or ident)

    def _write(self, snapshot: Snapshot, supersedes: Path | None = None) -> Path:
        path = (
            self.store.write(snapshot)
            if supersedes is None
            else self.store.replace(supersedes, snapshot)
        )
        self.written = [(s, p) for s, p in self.written if p != supersedes]
        self.written.append((snapshot, path))
        return path


def _genuine(target: Target) -> dict[str, DocumentSpec]:
    """The target's specs whose content really has their hash, by key.

    A rollback's target carries stand-ins for documents it only keeps (their content was never
    captured); a stand-in must not become a blob.
    """
    return {
        s.key: s for s in target.documents if content_hash(s.doc_type, s.content) == s.content_hash
    }


def _managed(target: Target, marker: Marker | None, name: str) -> Marker | None:
    """The marker when it is this project+environment's, else None."""
    found = marker if marker is not None else parse_marker(name)
    if found is None or found.project != target.project or found.environment != target.environment:
        return None
    return found


def _outcome(result: ApplyResult) -> str:
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
        case _:
            assert_never(result.outcome)


class _Progress:
    """What the run did so far, as the events tell it."""

    def __init__(self) -> None:
        self.created: dict[str, str] = {}
        self.reused: dict[str, str] = {}
        self.deleted: list[str] = []
        self.kept: list[str] = []
        self.agent_updated = False
        self.version_id: str | None = None


class _CheckpointEvents:
    """Forwards every event; after each change, rewrites the hook's "after" checkpoint."""

    def __init__(self, hook: SnapshotHook, inner: ApplyEvents) -> None:
        self._hook = hook
        self._inner = inner

    def plan_started(self, plan: AgentPlan) -> None:
        self._inner.plan_started(plan)

    def phase_started(self, phase: Phase, total: int) -> None:
        self._inner.phase_started(phase, total)

    def document_created(self, key: str, doc_id: str, *, reused: bool) -> None:
        progress = self._hook._progress
        (progress.reused if reused else progress.created)[key] = doc_id
        self._hook.checkpoint()
        self._inner.document_created(key, doc_id, reused=reused)

    def document_renamed(self, key: str, doc_id: str, name: str) -> None:
        self._inner.document_renamed(key, doc_id, name)

    def index_progress(self, key: str, status: IndexStatus, pct: float) -> None:
        self._inner.index_progress(key, status, pct)

    def gate_passed(self, indexed: int) -> None:
        self._inner.gate_passed(indexed)

    def agent_updated(self, agent_id: str, version_id: str | None) -> None:
        progress = self._hook._progress
        progress.agent_updated = True
        progress.version_id = version_id
        self._hook.checkpoint()
        self._inner.agent_updated(agent_id, version_id)

    def document_deleted(self, key: str, doc_id: str) -> None:
        self._hook._progress.deleted.append(doc_id)
        self._hook.checkpoint()
        self._inner.document_deleted(key, doc_id)

    def document_kept(self, key: str, doc_id: str, reason: str) -> None:
        self._hook._progress.kept.append(doc_id)
        self._inner.document_kept(key, doc_id, reason)

    def warning(self, message: str) -> None:
        self._inner.warning(message)

    def finished(self, summary: str, seconds: float) -> None:
        self._inner.finished(summary, seconds)
