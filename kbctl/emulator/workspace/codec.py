"""The emulator's records as JSON for persistence (documents, RAG indexes, agents, versions):
one `*_to_json` / `*_from_json` pair per record type, and the content-address of blobs.

Owns the on-disk shape of records. Must not touch files (see `persistence`) nor decide what
changed (the world does).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from kbctl.emulator.workspace.records import (
    MAIN_BRANCH_NAME,
    Agent,
    AgentVersion,
    Branch,
    Deployment,
    Document,
    Json,
    RagIndex,
)

KINDS = ("documents", "indexes", "agents", "versions")


def _int(rec: Json, key: str) -> int:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} is not a number: {value!r}")
    return int(value)


def _float(rec: Json, key: str) -> float:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} is not a number: {value!r}")
    return float(value)


def meta_int(rec: Json, key: str) -> int:
    """An integer counter of the `meta` record (0 when absent)."""
    return _int(rec, key) if key in rec else 0


def _opt_str(rec: Json, key: str) -> str | None:
    value = rec.get(key)
    return value if isinstance(value, str) else None


def blob_id(data: bytes) -> str:
    """Content address of a blob."""
    return hashlib.sha256(data).hexdigest()


#: Contents up to this size are stored inline in the records; larger ones as blob files.
INLINE_LIMIT = 64 * 1024


def doc_to_json(doc: Document) -> Json:
    """A document record: metadata plus its content (inline `text`/`b64`, or a `blob` address
    whose file the caller must write)."""
    content: Json
    if len(doc.data) > INLINE_LIMIT:
        content = {"blob": blob_id(doc.data)}
    else:
        try:
            content = {"text": doc.data.decode("utf-8")}
        except UnicodeDecodeError:
            content = {"b64": base64.b64encode(doc.data).decode("ascii")}
    return {
        **content,
        "id": doc.id,
        "seq": doc.seq,
        "type": doc.doc_type,
        "name": doc.name,
        "created_at": doc.created_at,
        "updated_at": doc.updated_at,
        "parent_id": doc.parent_id,
        "url": doc.url,
        "filename": doc.filename,
        "auto_sync": [doc.enable_auto_sync, doc.auto_remove, doc.minimum_frequency_days],
    }


def doc_content(rec: Json, read_blob: Callable[[str], bytes]) -> bytes:
    """The content bytes of a document record."""
    if isinstance(rec.get("text"), str):
        return str(rec["text"]).encode()
    if isinstance(rec.get("b64"), str):
        return base64.b64decode(str(rec["b64"]))
    if isinstance(rec.get("blob"), str):
        return read_blob(str(rec["blob"]))
    return b""


def doc_from_json(rec: Json, data: bytes) -> Document:
    """The inverse of `doc_to_json`, given the content (see `doc_content`)."""
    sync = rec.get("auto_sync") or [False, False, None]
    assert isinstance(sync, list)
    doc = Document(
        id=str(rec["id"]),
        seq=_int(rec, "seq"),
        doc_type=str(rec["type"]),
        name=str(rec["name"]),
        created_at=_int(rec, "created_at"),
        updated_at=_int(rec, "updated_at"),
        parent_id=_opt_str(rec, "parent_id"),
        url=_opt_str(rec, "url"),
        filename=_opt_str(rec, "filename"),
        enable_auto_sync=bool(sync[0]),
        auto_remove=bool(sync[1]),
        minimum_frequency_days=sync[2] if isinstance(sync[2], int) else None,
    )
    doc.set_data(data)
    return doc


def index_to_json(ix: RagIndex) -> Json:
    """A RAG index attempt."""
    return {
        "id": ix.id,
        "document_id": ix.document_id,
        "model": ix.model,
        "requested_at": ix.requested_at,
        "outcome": ix.outcome,
        "size_bytes": ix.size_bytes,
    }


def index_from_json(rec: Json) -> RagIndex:
    """The inverse of `index_to_json`."""
    return RagIndex(
        id=str(rec["id"]),
        document_id=str(rec["document_id"]),
        model=str(rec["model"]),
        requested_at=_float(rec, "requested_at"),
        outcome=str(rec["outcome"]),
        size_bytes=_int(rec, "size_bytes"),
    )


def _branch_to_json(b: Branch) -> Json:
    return {
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "created_at": b.created_at,
        "version_ids": list(b.version_ids),
        "parent_branch_id": b.parent_branch_id,
        "is_archived": b.is_archived,
        "protection_status": b.protection_status,
        "merged_into_branch_id": b.merged_into_branch_id,
    }


def _branch_from_json(rec: Json) -> Branch:
    versions = rec["version_ids"]
    assert isinstance(versions, list)
    return Branch(
        id=str(rec["id"]),
        name=str(rec["name"]),
        description=str(rec.get("description") or ""),
        created_at=_int(rec, "created_at"),
        version_ids=[str(v) for v in versions],
        parent_branch_id=_opt_str(rec, "parent_branch_id"),
        is_archived=bool(rec.get("is_archived")),
        protection_status=_opt_str(rec, "protection_status"),
        merged_into_branch_id=_opt_str(rec, "merged_into_branch_id"),
    )


def agent_to_json(agent: Agent) -> Json:
    """An agent with its branches and deployments (its versions are separate records)."""
    return {
        "agent_id": agent.agent_id,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
        "main_branch_id": agent.main_branch_id,
        "branches": [_branch_to_json(b) for b in agent.branches.values()],
        "deployments": [
            {"id": d.id, "deployed_at": d.deployed_at, "traffic": d.traffic, "source": d.source}
            for d in agent.deployments
        ],
    }


def agent_from_json(rec: Json) -> Agent:
    """The inverse of `agent_to_json`; also reads the older record with only `version_ids`
    (main was the only branch then)."""
    main = str(rec["main_branch_id"])
    created = _int(rec, "created_at")
    raw_branches = rec.get("branches")
    branches: dict[str, Branch] = {}
    if isinstance(raw_branches, list):
        for item in raw_branches:
            assert isinstance(item, dict)
            branch = _branch_from_json(item)
            branches[branch.id] = branch
    else:
        versions = rec["version_ids"]
        assert isinstance(versions, list)
        branches[main] = Branch(
            main, MAIN_BRANCH_NAME, "Main branch", created, list(map(str, versions))
        )
    deployments = []
    raw_deployments = rec.get("deployments")
    for item in raw_deployments if isinstance(raw_deployments, list) else []:
        assert isinstance(item, dict)
        traffic = item.get("traffic")
        assert isinstance(traffic, dict)
        deployments.append(
            Deployment(
                id=str(item["id"]),
                deployed_at=_int(item, "deployed_at"),
                traffic={str(k): float(v) for k, v in traffic.items()},
                source=str(item.get("source") or "manual"),
            )
        )
    return Agent(
        agent_id=str(rec["agent_id"]),
        created_at=created,
        updated_at=_int(rec, "updated_at"),
        main_branch_id=main,
        branches=branches,
        deployments=deployments,
    )


def version_to_json(v: AgentVersion) -> Json:
    """An agent version (immutable)."""
    return {
        "id": v.id,
        "agent_id": v.agent_id,
        "branch_id": v.branch_id,
        "seq_no": v.seq_no,
        "committed_at": v.committed_at,
        "description": v.description,
        "name": v.name,
        "tags": list(v.tags),
        "conversation_config": v.conversation_config,
        "platform_settings": v.platform_settings,
        "workflow": v.workflow,
        "parent_id": v.parent_id,
        "origin": dict(v.origin),
    }


def version_from_json(rec: Json) -> AgentVersion:
    """The inverse of `version_to_json`."""
    cc, ps, wf, tags = (
        rec.get(k) for k in ("conversation_config", "platform_settings", "workflow", "tags")
    )
    assert isinstance(cc, dict) and isinstance(ps, dict) and isinstance(tags, list)
    return AgentVersion(
        id=str(rec["id"]),
        agent_id=str(rec["agent_id"]),
        branch_id=str(rec["branch_id"]),
        seq_no=_int(rec, "seq_no"),
        committed_at=_int(rec, "committed_at"),
        description=str(rec["description"]),
        name=str(rec["name"]),
        tags=[str(t) for t in tags],
        conversation_config=cc,
        platform_settings=ps,
        workflow=wf if isinstance(wf, dict) else None,
        parent_id=_opt_str(rec, "parent_id"),
        origin={str(k): str(v) for k, v in dict(rec.get("origin") or {}).items()},  # type: ignore[call-overload]
    )
