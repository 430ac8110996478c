"""Before the swap, where environments share documents (ElevenLabs): what the run is about to
attach must still exist, and be the project's one copy.

Two runs of one project (staging and production) may apply at once, each holding its own
agent's lease. After the index gate and before the swap this step checks, for a provider whose
environments share documents (`kbctl.identity.shares_documents`):

- while another run of the project holds a lease (a read per reused document otherwise spent
  for nothing), every document the run reuses (another environment's, or a leftover) still
  exists: one that the other run deleted meanwhile (an orphan to it) is uploaded afresh and
  indexed now, so the agent never gets a deleted id;
- a document the run uploaded that the other run uploaded too since this run read the workspace
  (the same project, key and content, whichever environment its name carries; looked for on the
  newest page of the listing and, when one is there, among the documents of the last hour, a
  page per 100) is given up for the
  earlier copy once that one is indexed, so the project keeps one copy; this run's copy is
  deleted after the swap, like a superseded one.

Must not write the agent; every wait goes through the injected clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

from kbctl.apply.deletions import delete_created
from kbctl.apply.events import DocumentCreated, IndexProgress
from kbctl.apply.types import DocOutcome
from kbctl.apply.uploading import UploadSteps
from kbctl.errors import ApiError, ApplyError, NotFoundError
from kbctl.identity import identity_hash, parse_marker, shares_documents, target_document_name
from kbctl.model import IndexStatus, LiveDocument, UsageMode
from kbctl.plan.types import DocumentChange
from kbctl.provider.base import IndexState, RecentDocuments

#: How far back (seconds) the documents are read to find a twin of this run's uploads.
_RECENT = 3600.0
#: Backoff between index reads of a document this step waits for (seconds).
_FIRST_POLL = 0.5
_MAX_POLL = 8.0


class ReattachSteps(UploadSteps):
    """The checks between the index gate and the swap (see the module docstring)."""

    def _settle_shared(self, pool: Executor) -> None:
        """The vanished check only while another run of the project holds a lease (without
        one the swap itself stands guard: the API refuses an unknown id); the twin check
        whenever this run uploaded (the other run may have finished already)."""
        if not shares_documents(self.target.provider) or self.gate.failed:
            return
        if self.reused and self._others_applying():
            self._recreate_vanished(pool)
        self._prefer_earlier_copies()

    def _others_applying(self) -> bool:
        """Whether another run of the project holds a lease now (true when it cannot tell)."""
        try:
            return bool(self.lease.project_runs())
        except ApiError:
            return True

    # ----------------------------------------------------------------------------------------

    def _recreate_vanished(self, pool: Executor) -> None:
        """Upload afresh (and index) every reused document that no longer exists."""
        reused = list(self.reused)
        if not reused:
            return
        there = list(pool.map(self._exists, [r.id for r in reused]))
        for record, present in zip(reused, there, strict=True):
            if present:
                continue
            doc_id = self._upload_again(record.key)
            self.reused.remove(record)
            self.created.append(DocOutcome(record.key, doc_id))
            self.events(DocumentCreated(record.key, doc_id, reused=False))
            self._warn(
                f"{record.key}: the shared document {record.id} was deleted meanwhile (by "
                f"another run of {self.plan.project}?); uploaded afresh as {doc_id}"
            )

    def _exists(self, doc_id: str) -> bool:
        """Whether the API still has `doc_id` (a read that fails otherwise counts as yes: the
        API refuses an unknown id in the swap anyway)."""
        try:
            self.provider.dependents(doc_id)
        except NotFoundError:
            return False
        except ApiError:
            return True
        return True

    def _upload_again(self, key: str) -> str:
        change = self._change(key)
        spec = self.leftover_specs.get(key)
        if spec is None:  # run_state keeps the content of every reused key
            raise ApplyError(f"{key}: its shared document vanished and no content is at hand")
        name = target_document_name(
            self.target.provider,
            key,
            self.plan.project,
            self.plan.environment,
            identity_hash(spec.content_hash, spec.chunking),
        )
        try:
            doc_id = self.provider.create_document(spec, name)
        except ApiError as err:
            raise self._api_failure("uploading a vanished shared document again", err) from err
        if change.usage_mode is UsageMode.AUTO:
            state = self._await_index(key, doc_id)
            if state.status is not IndexStatus.SUCCEEDED:
                delete_created(self.provider, doc_id)
                raise ApplyError(
                    f"{key}: its shared document vanished and the new copy did not index "
                    f"({state.status_name})",
                    detail=f"{self.plan.words.the_title} was not changed.",
                    hint=f"Run kbctl apply -e {self.plan.environment} again.",
                )
        return doc_id

    # ----------------------------------------------------------------------------------------

    def _prefer_earlier_copies(self) -> None:
        """Give up an upload of this run for the same document another run uploaded first."""
        if not self.created or not isinstance(self.provider, RecentDocuments):
            return
        wanted = {r.id: _identity(self._change(r.key).name) for r in self.created}
        mine = set(wanted)
        since = self.clock.now() - _RECENT
        try:  # twins are as new as this run's uploads: the newest page tells whether to look on
            newest = self.provider.recent_documents(since, limit=1)
            if not any(_identity(d.name) in wanted.values() and d.id not in mine for d in newest):
                return
            listed = self.provider.recent_documents(since)
        except ApiError:
            return  # two copies stay (both correct) until the content changes
        # Only copies uploaded since this run read the workspace: one the plan saw and did not
        # reuse (edited in place, say) is never switched to. A twin is the same project, key
        # and content, whichever environment's marker its name carries.
        known = {d.id for d in self.live.documents} if self.live is not None else set()
        by_identity: dict[tuple[str, str, str], list[LiveDocument]] = {}
        for doc in listed:
            identity = _identity(doc.name)
            if doc.id not in known and identity is not None:
                by_identity.setdefault(identity, []).append(doc)
        for record in list(self.created):
            identity = wanted[record.id]
            copies = by_identity.get(identity, []) if identity is not None else []
            first = earliest(copies)
            if first is None or first.id == record.id or record.id not in {d.id for d in copies}:
                continue
            auto = self._change(record.key).usage_mode is UsageMode.AUTO
            if auto and self._await_index(record.key, first.id).status is not IndexStatus.SUCCEEDED:
                continue  # not ready in time: keep this run's own copy (two copies stay)
            self.created.remove(record)
            self.reused.append(DocOutcome(record.key, first.id))
            self.given_up.append(record)
            self.events(DocumentCreated(record.key, first.id, reused=True))

    # ----------------------------------------------------------------------------------------

    def _change(self, key: str) -> DocumentChange:
        return next(c for c in self.plan.changes if c.key == key and c.name is not None)

    def _await_index(self, key: str, doc_id: str) -> IndexState:
        """Request the index of `doc_id` for the plan's model and wait for a terminal answer,
        up to `policy.index_timeout`; the last answer."""
        model = self.plan.embedding_model
        deadline = self.clock.monotonic() + self.plan.policy.index_timeout
        delay = _FIRST_POLL
        try:
            state = self.provider.request_index(doc_id, model)
            while _pending(state):
                self.events(IndexProgress(key, state.status, state.progress))
                now = self.clock.monotonic()
                if now >= deadline:
                    break
                self.clock.sleep(min(delay, deadline - now))
                delay = min(delay * 2, _MAX_POLL)
                state = self.provider.index_state(doc_id, model)
        except ApiError:
            return IndexState(IndexStatus.UNKNOWN)
        self.events(IndexProgress(key, state.status, state.progress))
        return state


def earliest(copies: Sequence[LiveDocument]) -> LiveDocument | None:
    """The copy uploaded first (by creation time, then id): the one every run keeps."""
    if not copies:
        return None
    return min(copies, key=lambda d: (d.created_at if d.created_at is not None else 2**62, d.id))


def _identity(name: str | None) -> tuple[str, str, str] | None:
    """Project, key and content hash of a kbctl name (its environment aside), else None."""
    marker = parse_marker(name) if name is not None else None
    return None if marker is None else (marker.project, marker.key, marker.hash12)


def _pending(state: IndexState) -> bool:
    status = state.status
    return status.in_flight or status in (IndexStatus.NOT_INDEXED, IndexStatus.UNKNOWN)
