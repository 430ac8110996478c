"""Records → the JSON shapes of the reference (SDK 2.78.0 models): document detail and summary
unions, RAG indexes, dependent agents, agents, versions and branches.

Owns formatting only. Must not read state, the clock or the request: every derived value
(folder path, counts, dependents, index status) is passed in by the caller.
"""

from __future__ import annotations

import copy

from kbctl.emulator.workspace.agent_config import DEFAULT_VOICE_ID
from kbctl.emulator.workspace.records import Agent, AgentVersion, Document, Json, RagIndex

ACCESS_INFO: Json = {
    "is_creator": True,
    "creator_name": "kbctl emulator",
    "creator_email": "emulator@kbctl.invalid",
    "role": "admin",
}

MAIN_BRANCH_NAME = "Main"


def access_info() -> Json:
    """A fresh copy of the caller's access to everything (the emulator has one user)."""
    return dict(ACCESS_INFO)


def _metadata(doc: Document) -> Json:
    return {
        "created_at_unix_secs": doc.created_at,
        "last_updated_at_unix_secs": doc.updated_at,
        "size_bytes": doc.size_bytes,
    }


def _supported_usages(doc: Document) -> list[str]:
    return ["auto"] if doc.doc_type == "folder" else ["prompt", "auto"]


def _auto_sync(doc: Document) -> Json | None:
    if not doc.enable_auto_sync:
        return None
    return {
        "minimum_frequency_days": doc.minimum_frequency_days or 7,
        "auto_remove": doc.auto_remove,
        "consec_failures": 0,
        "next_refresh_by": None
        if doc.doc_type == "folder"
        else doc.updated_at + 86400 * (doc.minimum_frequency_days or 7),
    }


def _common(doc: Document) -> Json:
    return {
        "id": doc.id,
        "name": doc.name,
        "metadata": _metadata(doc),
        "supported_usages": _supported_usages(doc),
        "access_info": access_info(),
        "folder_parent_id": doc.parent_id,
        "type": doc.doc_type,
    }


def document_detail(
    doc: Document, folder_path: list[tuple[str, str]], counts: tuple[int, int] = (0, 0)
) -> Json:
    """`GET /v1/convai/knowledge-base/{id}` (detail union). `folder_path`: (id, name) root first;
    `counts`: (children_count, document_count) for folders."""
    out = _common(doc)
    out["folder_path"] = [{"id": fid, "name": fname} for fid, fname in folder_path]
    if doc.doc_type == "folder":
        out["children_count"], out["document_count"] = counts
        out["auto_sync_info"] = _auto_sync(doc)
        return out
    out["extracted_inner_html"] = doc.text
    out["content_format"] = "markdown"
    if doc.doc_type == "url":
        out["url"] = doc.url or ""
        out["auto_sync_info"] = _auto_sync(doc)
    elif doc.doc_type == "file":
        out["filename"] = doc.filename or ""
        out["is_frozen"] = False
    return out


def document_summary(
    doc: Document,
    folder_path_ids: list[str],
    dependents: list[Json],
    counts: tuple[int, int] = (0, 0),
) -> Json:
    """List/summaries/search item (summary union): no content, deprecated `dependent_agents`."""
    out = _common(doc)
    out["folder_path"] = [{"id": fid} for fid in folder_path_ids]
    out["dependent_agents"] = dependents
    if doc.doc_type == "folder":
        out["children_count"], out["document_count"] = counts
        out["auto_sync_info"] = _auto_sync(doc)
    elif doc.doc_type == "url":
        out["url"] = doc.url or ""
        out["auto_sync_info"] = _auto_sync(doc)
    elif doc.doc_type == "file":
        out["is_frozen"] = False
    return out


def added(doc: Document, folder_path_ids: list[str]) -> Json:
    """`AddKnowledgeBaseResponseModel` of the create endpoints."""
    return {"id": doc.id, "name": doc.name, "folder_path": [{"id": f} for f in folder_path_ids]}


def rag_index(ix: RagIndex, status: str, progress: float, used_bytes: int) -> Json:
    """`RagDocumentIndexResponseModel`."""
    return {
        "id": ix.id,
        "model": ix.model,
        "status": status,
        "progress_percentage": progress,
        "document_model_index_usage": {"used_bytes": used_bytes},
    }


def failure(code: int, status: str, message: str) -> Json:
    """A per-item failure of a batch endpoint."""
    return {
        "status": "failure",
        "error_code": code,
        "error_status": status,
        "error_message": message,
    }


def success(data: Json) -> Json:
    """A per-item success of a batch endpoint."""
    return {"status": "success", "data": data}


def dependent_agent(head: AgentVersion, agent: Agent, via: list[str] | None) -> Json:
    """An `available` dependent agent; `via` lists what a transitive dependent references."""
    return {
        "type": "available",
        "id": agent.agent_id,
        "name": head.name,
        "created_at_unix_secs": agent.created_at,
        "access_level": "admin",
        "referenced_resource_ids": via,
    }


def dependent_branch(head: AgentVersion) -> Json:
    """`DependentBranchInfo` (the emulator models only main branches)."""
    return {
        "agent_id": head.agent_id,
        "agent_name": head.name,
        "branch_id": head.branch_id,
        "branch_name": MAIN_BRANCH_NAME,
        "is_main": True,
    }


def agent(agent: Agent, version: AgentVersion) -> Json:
    """`GetAgentResponseModel` for `version` (usually the head); a copy callers may change."""
    return {
        "agent_id": agent.agent_id,
        "name": version.name,
        "conversation_config": copy.deepcopy(version.conversation_config),
        "metadata": {
            "created_at_unix_secs": agent.created_at,
            "updated_at_unix_secs": version.committed_at,
        },
        "platform_settings": copy.deepcopy(version.platform_settings),
        "phone_numbers": [],
        "whatsapp_accounts": [],
        "workflow": copy.deepcopy(version.workflow),
        "access_info": access_info(),
        "tags": list(version.tags),
        "version_id": version.id,
        "branch_id": version.branch_id,
        "main_branch_id": agent.main_branch_id,
    }


def agent_summary(agent: Agent, head: AgentVersion) -> Json:
    """`AgentSummaryResponseModel` (list items and the summaries map)."""
    tts = head.conversation_config.get("tts")
    voice = tts.get("voice_id") if isinstance(tts, dict) else None
    return {
        "agent_id": agent.agent_id,
        "name": head.name,
        "voice_id": voice if isinstance(voice, str) else DEFAULT_VOICE_ID,
        "tags": list(head.tags),
        "created_at_unix_secs": agent.created_at,
        "updated_at_unix_secs": agent.updated_at,
        "access_info": access_info(),
        "last_call_time_unix_secs": None,
        "archived": False,
    }


def version_metadata(version: AgentVersion) -> Json:
    """`AgentVersionMetadata`."""
    return {
        "id": version.id,
        "agent_id": version.agent_id,
        "branch_id": version.branch_id,
        "version_description": version.description,
        "seq_no_in_branch": version.seq_no,
        "time_committed_secs": version.committed_at,
        "parents": {"in_branch_parent_id": version.parent_id},
        "access_info": access_info(),
    }


def branch_summary(agent: Agent, head: AgentVersion) -> Json:
    """`AgentBranchSummary` of the main branch."""
    return {
        "id": agent.main_branch_id,
        "name": MAIN_BRANCH_NAME,
        "agent_id": agent.agent_id,
        "description": "Main branch",
        "created_at": agent.created_at,
        "last_committed_at": head.committed_at,
        "is_archived": False,
        "protection_status": "writer_perms_required",
        "access_info": access_info(),
        "current_live_percentage": 100.0,
        "parent_branch_id": None,
        "draft_exists": False,
    }
