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

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

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
    KbEntry,
    LiveAgent,
    LiveDocument,
    LiveState,
    Marker,
    Target,
)
from kbctl.plan.matching import managed_marker
from kbctl.plan.planner import embedding_model
from kbctl.provider.base import IndexState, Provider
from kbctl.sharing import SharedUse

#: Reads in flight at once, per kind (the HTTP client bounds all requests as well, and its
#: limiter finds the server's limit).
DEFAULT_CONCURRENCY = 8

#: Who else uses a document: None for nobody (or it is gone).
Use = SharedUse | None


@dataclass(frozen=True, slots=True)
class Prefetched:
    """Reads `observe` started from the agent alone, while the documents were being listed:
    the attached documents' indexes for `model`, and who else uses each attached managed
    document the manifest no longer wants (by id). `enrich` uses what fits and reads the rest."""

    model: str
    indexes: Mapping[str, IndexState]
    users: Mapping[str, SharedUse | None]


def observe(
    target: Target,
    provider: Provider,
    *,
    refresh_content: bool = False,
    with_quota: bool = True,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> LiveState:
    """`read_state` for `target`, then index health and in-place edits (`enrich`).

    What needs only the agent (the attached documents' indexes, and the other users of those
    the plan may drop) is read while the documents are listed, so at 10,000 documents it costs
    no time beyond the listing's sequential pages."""
    wanted = _wanted(target)
    early: list[tuple[str, Future[dict[str, IndexState]] | None, dict[str, Future[Use]]]] = []
    workers = max(1, concurrency)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kbctl-early") as pool:

        def on_agent(agent: LiveAgent) -> None:
            ids = _attached_ids(agent.knowledge_base, lambda _doc_id: None)
            model = embedding_model(target, agent)
            states = pool.submit(provider.index_states, ids, model) if ids else None
            users: dict[str, Future[Use]] = {}
            if shares_documents(target.provider):
                for entry in agent.knowledge_base:
                    marker = managed_marker(target, entry.name, None)
                    if marker is not None and (marker.key, marker.hash12) not in wanted:
                        users.setdefault(
                            entry.id, pool.submit(_users, provider, target.agent_id, entry.id)
                        )
            early.append((model, states, users))

        live = provider.read_state(
            target.agent_id,
            target.project,
            target.environment,
            with_quota=with_quota,
            on_agent=on_agent,
        )
        known = None
        if early:
            model, states, users = early[0]
            known = Prefetched(
                model,
                states.result() if states is not None else {},
                {doc_id: future.result() for doc_id, future in users.items()},
            )
    return enrich(
        target,
        live,
        provider,
        refresh_content=refresh_content,
        concurrency=concurrency,
        known=known,
    )


def enrich(
    target: Target,
    live: LiveState,
    provider: Provider,
    *,
    refresh_content: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    known: Prefetched | None = None,
) -> LiveState:
    """Add the index of every attached document and the ids of edited managed documents.

    `known`: what `observe` read from the agent alone; only the rest is read. The three reads
    (indexes, edited contents, other users) run side by side."""
    model = embedding_model(target, live.agent)
    attached = _attached_ids(live.agent.knowledge_base, live.document)
    wanted = _wanted(target)
    managed = _managed(target, live)
    held = set(attached)
    reusable = [d.id for d, m in managed if d.id not in held and (m.key, m.hash12) in wanted]
    to_read = [*attached, *reusable]
    have = dict(known.indexes) if known is not None and known.model == model else {}
    missing = [i for i in to_read if i not in have]
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="kbctl-observe") as pool:
        states_read = pool.submit(provider.index_states, missing, model) if missing else None
        edited_read = pool.submit(
            edited_documents,
            target,
            live,
            provider,
            refresh_content=refresh_content,
            concurrency=concurrency,
        )
        shared_read = None
        if shares_documents(target.provider):
            shared_read = pool.submit(
                shared_uses,
                target,
                live,
                provider,
                managed,
                wanted,
                concurrency=concurrency,
                known=known.users if known is not None else None,
            )
        if states_read is not None:
            have.update(states_read.result())
        edited = edited_read.result()
        shared = shared_read.result() if shared_read is not None else None
    states = {i: have[i] for i in to_read if i in have}
    indexes = tuple(
        IndexHealth(doc_id, state.status, state.status_name, state.progress)
        for doc_id, state in sorted(states.items())
    )
    return replace(live, index_model=model, indexes=indexes, edited=edited, shared=shared)


def _wanted(target: Target) -> set[tuple[str, str]]:
    """(key, hash12) of every declared document, as markers name them."""
    return {
        (s.key, identity_hash(s.content_hash, s.chunking)[:HASH_CHARS]) for s in target.documents
    }


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
    known: Mapping[str, Use] | None = None,
) -> tuple[SharedUse, ...]:
    """Who else uses the managed documents this agent does not hold alone, by id: those used
    by another agent or branch, or whose users could not be read (kept, never deleted).
    `known`: users already read, by id (only the others are read)."""
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
    done = known or {}
    found = [done[i] for i in ask if i in done]
    ask = [i for i in ask if i not in done]
    if ask:
        workers = max(1, min(concurrency, len(ask)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kbctl-users") as pool:
            found += pool.map(lambda i: _users(provider, target.agent_id, i), ask)
    return tuple(sorted((u for u in found if u is not None), key=lambda u: u.doc_id))


def _users(provider: Provider, agent_id: str, doc_id: str) -> Use:
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


def _attached_ids(
    entries: Sequence[KbEntry], document: Callable[[str], LiveDocument | None]
) -> list[str]:
    """Attached documents that can have an index (folders cannot), each once, in array order
    (a document's listed type wins over the agent entry's)."""
    out: dict[str, None] = {}
    for entry in entries:
        doc = document(entry.id)
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
