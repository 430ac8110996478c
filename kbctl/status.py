"""`kbctl status`: what an agent's knowledge base is right now, and whether it drifted.

Owns collecting one target's live picture: every attached document (type, size, usage mode,
managed or not) with its RAG index status for the agent's embedding model, the managed orphans,
the workspace RAG quota, and the drift against the manifest as the planner sees it (the plan's
counts, in one line: a document to re-index is drift; orphans left to delete are pending
cleanup, not drift). The same reads as `kbctl plan` (`kbctl.observe`: one `read_state`, index
states in batches of 100, content reads of documents that may have been edited in place).
Never changes anything and never draws (the CLI renders the report).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kbctl.identity import owned, parse_marker, shares_documents
from kbctl.model import (
    RAG_DEFAULTS,
    DocType,
    IndexHealth,
    IndexStatus,
    LiveState,
    Marker,
    ProviderKind,
    RagQuota,
    Target,
    UsageMode,
)
from kbctl.observe import observe
from kbctl.plan.matching import used_elsewhere
from kbctl.plan.planner import plan_target
from kbctl.plan.types import AgentPlan, Summary
from kbctl.provider.base import Provider
from kbctl.wording import AGENT, VECTOR_STORE, Wording


@dataclass(frozen=True, slots=True)
class DocumentStatus:
    """One document of the agent (or a managed one left unattached).

    Attributes:
        usage_mode: None for a managed document that is not attached (an orphan).
        index: the RAG index status for the agent's model; None when not read (prompt
            documents, orphans).
    """

    id: str
    name: str
    key: str | None
    doc_type: DocType
    size_bytes: int
    usage_mode: UsageMode | None
    managed: bool
    attached: bool
    index: IndexStatus | None = None
    index_progress: float = 0.0
    index_name: str | None = None  # the status as the API named it (unknown ones included)

    @property
    def index_label(self) -> str | None:
        """The index status for people: the API's own word for one kbctl does not know."""
        if self.index is None:
            return None
        return self.index_name or self.index.value


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """The status of one manifest's agent in one environment."""

    manifest: str
    project: str
    environment: str
    agent_id: str
    agent_name: str
    version_id: str | None
    embedding_model: str
    rag_enabled: bool
    documents: tuple[DocumentStatus, ...]
    quota: RagQuota | None
    summary: Summary
    rag_changes: int
    deletions: int
    has_changes: bool
    cleanup: int = 0  # orphans apply deletes: pending cleanup, not drift
    #: `rollout: branch`: a canary in progress, in one line (None: none is live).
    rollout: str | None = None
    #: provider openai: `agent_id` names a vector store, which has no RAG switch.
    vector_store: bool = False

    @property
    def words(self) -> Wording:
        """How human output names the target: agent or vector store."""
        return VECTOR_STORE if self.vector_store else AGENT

    @property
    def drift_line(self) -> str:
        """The drift against the manifest, in one line."""
        pending = f" ({self.cleanup} orphan pending cleanup)" if self.cleanup == 1 else ""
        if self.cleanup > 1:
            pending = f" ({self.cleanup} orphans pending cleanup)"
        if not self.has_changes:
            return f"no drift: {self.words.the} matches the manifest{pending}"
        s = self.summary
        parts = [
            f"{count} to {verb}"
            for count, verb in (
                (s.create, "create"),
                (s.replace, "replace"),
                (s.update, "update"),
                (s.delete, "delete"),
                (s.reindex, "reindex"),
            )
            if count
        ]
        if self.rag_changes:
            parts.append(f"{self.rag_changes} RAG setting(s) differ")
        if not parts:
            parts.append("documents to index")
        return (
            f"drift: {', '.join(parts)}{pending} "
            f"(kbctl plan -e {self.environment} shows the details)"
        )


def collect_status(
    target: Target, provider: Provider, *, concurrency: int = 4, refresh_content: bool = False
) -> AgentStatus:
    """Read the live picture of `target`'s agent and compare it with the manifest."""
    live = observe(target, provider, refresh_content=refresh_content, concurrency=concurrency)
    plan = plan_target(target, live)
    model = plan.embedding_model
    documents = _documents(target, live)
    health = {h.doc_id: h for h in live.indexes}
    documents = tuple(
        _with_index(d, health[d.id])
        if d.id in health and d.attached and d.usage_mode is UsageMode.AUTO
        else d
        for d in documents
    )
    return _report(target, live, plan, model, documents)


def _documents(target: Target, live: LiveState) -> tuple[DocumentStatus, ...]:
    """Attached documents in array order, then managed orphans by id (a shared document
    another environment's agent uses is no orphan)."""
    out: list[DocumentStatus] = []
    seen: set[str] = set()
    for entry in live.agent.knowledge_base:
        if entry.id in seen:
            continue
        seen.add(entry.id)
        doc = live.document(entry.id)
        name = doc.name if doc is not None else entry.name
        marker = _ours(target, doc.marker if doc is not None else parse_marker(name))
        out.append(
            DocumentStatus(
                id=entry.id,
                name=name,
                key=marker,
                doc_type=doc.doc_type if doc is not None else entry.doc_type,
                size_bytes=doc.size_bytes if doc is not None else 0,
                usage_mode=entry.usage_mode,
                managed=marker is not None,
                attached=True,
            )
        )
    elsewhere = set(used_elsewhere(target, live))  # another environment's, not an orphan
    for doc in live.documents:
        if doc.id in seen or doc.id in elsewhere:
            continue
        key = _ours(target, doc.marker)
        if key is None:
            continue
        out.append(
            DocumentStatus(
                id=doc.id,
                name=doc.name,
                key=key,
                doc_type=doc.doc_type,
                size_bytes=doc.size_bytes,
                usage_mode=None,
                managed=True,
                attached=False,
            )
        )
    return tuple(out)


def _ours(target: Target, marker: Marker | None) -> str | None:
    """The key of a marker that is this project+environment's, else None."""
    found = owned(
        marker, target.project, target.environment, shared=shares_documents(target.provider)
    )
    return found.key if found is not None else None


def _with_index(doc: DocumentStatus, health: IndexHealth) -> DocumentStatus:
    return replace(
        doc, index=health.status, index_progress=health.progress, index_name=health.reported
    )


def _report(
    target: Target,
    live: LiveState,
    plan: AgentPlan,
    model: str,
    documents: tuple[DocumentStatus, ...],
) -> AgentStatus:
    rag_enabled = live.agent.rag.enabled
    return AgentStatus(
        manifest=target.manifest,
        project=target.project,
        environment=target.environment,
        agent_id=live.agent.id,
        agent_name=live.agent.name,
        version_id=live.agent.version_id,
        embedding_model=model,
        rag_enabled=bool(rag_enabled if rag_enabled is not None else RAG_DEFAULTS.enabled),
        documents=documents,
        quota=live.quota,
        summary=plan.summary,
        rag_changes=len(plan.rag_changes),
        deletions=len(plan.deletions),
        has_changes=plan.has_changes,
        cleanup=len(plan.cleanup),
        vector_store=target.provider is ProviderKind.OPENAI,
    )


def status_dict(status: AgentStatus) -> dict[str, object]:
    """The report as JSON data (`kbctl status --format json`)."""
    s = status.summary
    quota = status.quota
    return {
        "manifest": status.manifest,
        "project": status.project,
        "environment": status.environment,
        "agent": {
            "id": status.agent_id,
            "name": status.agent_name,
            "version_id": status.version_id,
            "embedding_model": status.embedding_model,
            "rag_enabled": status.rag_enabled,
        },
        "documents": [
            {
                "id": d.id,
                "name": d.name,
                "key": d.key,
                "type": d.doc_type.value,
                "size_bytes": d.size_bytes,
                "usage_mode": d.usage_mode.value if d.usage_mode is not None else None,
                "managed": d.managed,
                "attached": d.attached,
                "index": d.index_label,
                "index_progress": d.index_progress,
            }
            for d in status.documents
        ],
        "quota": None
        if quota is None
        else {"used_bytes": quota.used_bytes, "max_bytes": quota.max_bytes},
        "drift": {
            "has_changes": status.has_changes,
            "summary": {
                "create": s.create,
                "replace": s.replace,
                "update": s.update,
                "delete": s.delete,
                "noop": s.noop,
                "reindex": s.reindex,
            },
            "rag_changes": status.rag_changes,
            "deletions": status.deletions,
            "cleanup": status.cleanup,
            "line": status.drift_line,
        },
        "rollout": status.rollout,
    }
