"""Reading the live truth a plan stands on, beyond names: index health and in-place edits.

Owns what `kbctl plan`, `apply`, `status` and `rollback` read after `read_state`:

- the RAG index of every attached document for the model the plan will use (the manifest's,
  else the agent's own), and of every unattached managed document holding declared content
  (one the plan may reuse: a shared document is attached without an index request when it has
  one), in batch reads of 100 (⌈N/100⌉ requests);
- where environments share documents (ElevenLabs), who else uses the managed documents this
  agent does not hold alone: each unattached one of the project (another environment's, or an
  orphan) and each attached one the plan may drop, one dependent-agents read per document,
  bounded parallel (an older marker naming another environment needs no read: that
  environment's agent holds it, or its own next apply cleans it up);
- for managed documents whose content may have been edited in place (updated after they were
  created, or a size that is not what kbctl uploaded; every one with `refresh_content`), their
  content, fetched with bounded parallelism and compared with what their marker names.

It returns the `LiveState` with `index_model`, `indexes` and `edited` filled in. It reads and
compares only: what to do about it is the planner's decision. URL documents are never content
checked (their declared content is the URL; the page is the server's to fetch), nor are
documents without kbctl's marker (never touched, edited or not).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from kbctl.errors import ApiError, NotFoundError
from kbctl.identity import (
    HASH_CHARS,
    canonical_text,
    canonical_text_bytes,
    identity_hash,
    shares_documents,
)
from kbctl.model import (
    DocType,
    DocumentSpec,
    IndexHealth,
    LiveDocument,
    LiveState,
    Marker,
    Target,
)
from kbctl.plan.matching import managed_marker
from kbctl.plan.planner import embedding_model
from kbctl.provider.base import Provider
from kbctl.sharing import SharedUse

#: Content reads in flight at once (the HTTP client bounds all requests as well).
DEFAULT_CONCURRENCY = 4


def observe(
    target: Target,
    provider: Provider,
    *,
    refresh_content: bool = False,
    with_quota: bool = True,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> LiveState:
    """`read_state` for `target`, then index health and in-place edits (`enrich`)."""
    live = provider.read_state(
        target.agent_id, target.project, target.environment, with_quota=with_quota
    )
    return enrich(target, live, provider, refresh_content=refresh_content, concurrency=concurrency)


def enrich(
    target: Target,
    live: LiveState,
    provider: Provider,
    *,
    refresh_content: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> LiveState:
    """Add the index of every attached document and the ids of edited managed documents."""
    model = embedding_model(target, live.agent)
    attached = _attached_ids(live)
    wanted = {
        (s.key, identity_hash(s.content_hash, s.chunking)[:HASH_CHARS]) for s in target.documents
    }
    managed = _managed(target, live)
    reusable = [d.id for d, m in managed if d.id not in attached and (m.key, m.hash12) in wanted]
    to_read = [*attached, *(i for i in reusable if i not in attached)]
    states = provider.index_states(to_read, model) if to_read else {}
    indexes = tuple(
        IndexHealth(doc_id, state.status, state.status_name, state.progress)
        for doc_id, state in sorted(states.items())
    )
    edited = edited_documents(
        target, live, provider, refresh_content=refresh_content, concurrency=concurrency
    )
    shared = None
    if shares_documents(target.provider):
        shared = shared_uses(target, live, provider, managed, wanted, concurrency=concurrency)
    return replace(live, index_model=model, indexes=indexes, edited=edited, shared=shared)


def _managed(target: Target, live: LiveState) -> list[tuple[LiveDocument, Marker]]:
    """The managed documents of the live state (folders left out), by id."""
    out: list[tuple[LiveDocument, Marker]] = []
    for doc in live.documents:
        marker = managed_marker(target, doc.name, doc.marker)
        if marker is not None and doc.doc_type is not DocType.FOLDER:
            out.append((doc, marker))
    return out


def shared_uses(
    target: Target,
    live: LiveState,
    provider: Provider,
    managed: Sequence[tuple[LiveDocument, Marker]],
    wanted: set[tuple[str, str]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> tuple[SharedUse, ...]:
    """Who else uses the managed documents this agent does not hold alone, by id: those used
    by another agent or branch, or whose users could not be read (kept, never deleted)."""
    attached = {e.id for e in live.agent.knowledge_base}
    ask: list[str] = []
    for doc, marker in managed:
        if doc.id not in attached:
            # An older marker of another environment needs no read: the planner leaves such a
            # document to that environment (`kbctl.plan.matching.used_elsewhere`).
            if marker.environment in (None, target.environment):
                ask.append(doc.id)
        elif (marker.key, marker.hash12) not in wanted:
            ask.append(doc.id)  # the plan may replace or remove it: does anyone else use it?
    if ask:
        workers = max(1, min(concurrency, len(ask)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kbctl-users") as pool:
            found = list(pool.map(lambda i: _users(provider, target.agent_id, i), ask))
        return tuple(sorted((u for u in found if u is not None), key=lambda u: u.doc_id))
    return ()


def _users(provider: Provider, agent_id: str, doc_id: str) -> SharedUse | None:
    """Who but `agent_id` uses `doc_id` (None: nobody, or it is gone)."""
    try:
        dependents = provider.dependents(doc_id)
    except NotFoundError:
        return None
    except ApiError as err:
        return SharedUse(doc_id, unknown=err.summary)
    if not dependents.others(agent_id):
        return None
    return SharedUse(doc_id, dependents.describe(agent_id))


def _attached_ids(live: LiveState) -> list[str]:
    """Attached documents that can have an index (folders cannot), each once, in array order."""
    out: dict[str, None] = {}
    for entry in live.agent.knowledge_base:
        doc = live.document(entry.id)
        doc_type = doc.doc_type if doc is not None else entry.doc_type
        if doc_type is not DocType.FOLDER:
            out[entry.id] = None
    return list(out)


def edited_documents(
    target: Target,
    live: LiveState,
    provider: Provider,
    *,
    refresh_content: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> tuple[str, ...]:
    """Ids of managed documents whose live content is not the declared content their marker
    names, sorted. Only suspects are read (all of them with `refresh_content`)."""
    suspects = _suspects(target, live, refresh_content)
    if not suspects:
        return ()
    workers = max(1, min(concurrency, len(suspects)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kbctl-content") as pool:
        verdicts = list(pool.map(lambda s: _differs(provider, *s), suspects))
    return tuple(sorted(doc.id for (doc, _), bad in zip(suspects, verdicts, strict=True) if bad))


def _suspects(
    target: Target, live: LiveState, refresh_content: bool
) -> list[tuple[LiveDocument, DocumentSpec]]:
    """Managed documents holding declared content whose live copy may have changed."""
    by_key = {(s.key, s.content_hash[:HASH_CHARS]): s for s in target.documents}
    by_hash = {s.content_hash[:HASH_CHARS]: s for s in target.documents}
    out: list[tuple[LiveDocument, DocumentSpec]] = []
    for doc in live.documents:
        marker = managed_marker(target, doc.name, doc.marker)
        if marker is None:
            continue
        spec = by_key.get((marker.key, marker.hash12)) or by_hash.get(marker.hash12)
        if spec is None or not spec.content_known or DocType.URL in (spec.doc_type, doc.doc_type):
            continue  # content nobody wants (replaced anyway), a stand-in, or a URL
        if refresh_content or doc.touched_since_created or _size_differs(doc, spec):
            out.append((doc, spec))
    return out


def _size_differs(doc: LiveDocument, spec: DocumentSpec) -> bool:
    """The API reports a size other than the bytes kbctl uploaded (0 means not reported)."""
    return doc.doc_type is spec.doc_type and 0 < doc.size_bytes != len(spec.content)


def _differs(provider: Provider, doc: LiveDocument, spec: DocumentSpec) -> bool:
    """Read the content and compare it with the declared content (as canonical text)."""
    try:
        fetched = provider.document_content(doc.id)
    except NotFoundError:
        return False  # deleted meanwhile: the plan sees it gone next time
    return not same_content(spec, fetched, doc)


def same_content(spec: DocumentSpec, fetched: bytes, doc: LiveDocument) -> bool:
    """Whether the content the API returns is the declared content.

    The content endpoint returns text: a text document's own text, a file's extracted text. A
    binary file (not UTF-8) cannot be compared that way; it counts as edited only when both
    signals say so (updated after creation and a size kbctl did not upload).
    """
    try:
        declared = (
            spec.content if spec.doc_type is DocType.TEXT else canonical_text_bytes(spec.content)
        )
    except UnicodeDecodeError:
        return not (doc.touched_since_created and _size_differs(doc, spec))
    return _canonical(fetched) == declared


def _canonical(fetched: bytes) -> bytes | None:
    try:
        return canonical_text(fetched.decode("utf-8"))
    except UnicodeDecodeError:
        return None


__all__: Sequence[str] = ("edited_documents", "enrich", "observe", "same_content", "shared_uses")
