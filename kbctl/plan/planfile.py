"""Plan ↔ canonical JSON: what `kbctl plan --out` writes and `kbctl apply PLAN.json` reads.

The format is documented in `docs/plan-format.md`. `dumps` is canonical (sorted keys, lists in
plan order, indent 2, trailing newline), so the same plan always gives the same bytes, and
`loads(dumps(plan)) == plan`. `loads` checks every field it needs and raises `PlanFileError`
(summary, detail with the JSON path, hint) for anything it cannot read. No file I/O here: the
CLI reads and writes the text.
"""

from __future__ import annotations

import json
from typing import assert_never

from kbctl.errors import PlanFileError
from kbctl.jsonread import JsonObj, JsonReader
from kbctl.model import DocType, KbEntry, Policy, SmallDocumentPolicy, UsageMode
from kbctl.plan.types import (
    FORMAT_VERSION,
    Action,
    AgentPlan,
    CreateDocument,
    DeleteDocument,
    Deletion,
    DocumentChange,
    FieldChange,
    Finding,
    KeepDocument,
    Orphan,
    Plan,
    RagChange,
    ReindexDocument,
    ReplaceDocument,
    ReplaceReason,
    Scope,
    Severity,
    Summary,
    TargetEntry,
    UpdateDocument,
)

#: Plan format versions this kbctl reads: 1 had no `reindex` action (a re-index was a `noop`
#: with `needs_index`) and no `summary.reindex`.
READABLE_VERSIONS = (1, FORMAT_VERSION)

__all__ = ["dumps", "loads", "plan_to_dict"]

HINT = "Make a new one with `kbctl plan -e ENV --out PLAN.json`; plan files are not edited by hand."

#: Plan files are read strictly: every field is written, so an absent one is a damaged file
#: (fields that older versions did not write are read with `missing_ok=True`).
_READER = JsonReader(
    lambda problem: PlanFileError("The plan file has a bad field", detail=problem, hint=HINT),
    missing=lambda path: PlanFileError("The plan file is missing a field", detail=path, hint=HINT),
    keys_required=True,
)


def dumps(plan: Plan) -> str:
    """The plan as canonical JSON text (same plan → same bytes)."""
    text = json.dumps(
        plan_to_dict(plan), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False
    )
    return text + "\n"


def plan_to_dict(plan: Plan) -> dict[str, object]:
    """The plan as JSON-ready data (`docs/plan-format.md`)."""
    return {
        "format_version": plan.format_version,
        "environment": plan.environment,
        "fingerprint": plan.fingerprint,
        "has_changes": plan.has_changes,
        "has_cleanup": plan.has_cleanup,
        "summary": _summary(plan.summary),
        "partial": plan.scope.partial,
        "scope": {
            "targets": list(plan.scope.targets),
            "replace": list(plan.scope.replace),
            "replace_all": plan.scope.replace_all,
        },
        "changes": [_change(agent, c) for agent in plan.agents for c in agent.changes],
        "agents": [_agent(agent) for agent in plan.agents],
    }


def loads(text: str) -> Plan:
    """Read a plan written by `dumps`. Raises PlanFileError when it cannot."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PlanFileError("The plan file is not valid JSON", detail=str(exc), hint=HINT) from exc
    root = _READER.root(data, "$")
    version = root.value("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise PlanFileError(
            f"Unknown plan format version: {version!r}",
            detail="This kbctl reads plan format versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}.",
            hint="Apply a plan with the same kbctl version that made it, or make a new plan.",
        )
    environment = root.text("environment")
    grouped: dict[tuple[str, str], list[DocumentChange]] = {}
    for item in root.objs("changes"):
        owner = (item.text("manifest"), item.text("agent_id"))
        grouped.setdefault(owner, []).append(_read_change(item))
    items = root.objs("agents")
    owners = {(item.text("manifest"), item.text("agent_id")) for item in items}
    for manifest, agent_id in sorted(grouped.keys() - owners):
        raise _inconsistent(f"changes name agent {agent_id} of {manifest}, which is not in agents")
    v1 = version == 1
    agents = tuple(_read_agent(item, grouped, v1=v1) for item in items)
    scope = Scope()
    if root.has("scope"):  # absent in plan files written before targeted runs
        given = root.obj("scope")
        scope = Scope(
            tuple(given.texts("targets")), tuple(given.texts("replace")), given.flag("replace_all")
        )
    plan = Plan(environment=environment, agents=agents, format_version=FORMAT_VERSION, scope=scope)
    if root.text("fingerprint") != plan.fingerprint:
        raise _inconsistent("$.fingerprint does not match the agents' fingerprints")
    if root.obj("summary").raw != _summary(plan.summary, v1=v1):
        raise _inconsistent("$.summary does not match the changes")
    return plan


# --------------------------------------------------------------------------------------------
# Writing


def _summary(summary: Summary, *, v1: bool = False) -> dict[str, object]:
    counts: dict[str, object] = {
        "create": summary.create,
        "replace": summary.replace,
        "update": summary.update,
        "delete": summary.delete,
        "noop": summary.noop,
        "reindex": summary.reindex,
    }
    if v1:  # version 1 counted a re-index as a noop
        counts["noop"] = summary.noop + summary.reindex
        del counts["reindex"]
    return counts


def _change(agent: AgentPlan, c: DocumentChange) -> dict[str, object]:
    return {
        "agent_id": agent.agent_id,
        "project": agent.project,
        "manifest": agent.manifest,
        "action": c.action.value,
        "key": c.key,
        "doc_type": c.doc_type.value,
        "name": c.name,
        "usage_mode": c.usage_mode.value if c.usage_mode is not None else None,
        "content_hash": c.content_hash,
        "size_bytes": c.size_bytes,
        "live_id": c.live_id,
        "live_name": c.live_name,
        "reuse_id": c.reuse_id,
        "needs_index": c.needs_index,
        "fields": [{"field": f.field, "before": f.before, "after": f.after} for f in c.fields],
        "notes": list(c.notes),
        "reason": c.reason.value if isinstance(c, ReplaceDocument) else None,
        "index_status": c.index_status if isinstance(c, ReindexDocument) else None,
        "diff": c.diff if isinstance(c, ReplaceDocument) else None,
    }


def _agent(a: AgentPlan) -> dict[str, object]:
    return {
        "manifest": a.manifest,
        "project": a.project,
        "environment": a.environment,
        "agent_id": a.agent_id,
        "fingerprint": a.fingerprint,
        "embedding_model": a.embedding_model,
        "endpoint": a.endpoint,
        "protect": a.protect,
        "policy": {
            "index_timeout": float(a.policy.index_timeout),
            "small_documents": a.policy.small_documents.value,
            "max_deletes": a.policy.max_deletes,
            "delete_wait": float(a.policy.delete_wait),
        },
        "has_changes": a.has_changes,
        "has_cleanup": bool(a.cleanup),
        "summary": _summary(a.summary),
        "rag_changes": [
            {"field": r.field, "before": r.before, "after": r.after} for r in a.rag_changes
        ],
        "orphans": [
            {"id": o.id, "name": o.name, "key": o.key, "hash12": o.hash12, "fate": o.fate}
            for o in a.orphans
        ],
        "unmanaged": [
            {
                "id": e.id,
                "name": e.name,
                "doc_type": e.doc_type.value,
                "usage_mode": e.usage_mode.value,
            }
            for e in a.unmanaged
        ],
        "knowledge_base": [
            {
                "key": e.key,
                "id": e.id,
                "name": e.name,
                "doc_type": e.doc_type.value,
                "usage_mode": e.usage_mode.value,
            }
            for e in a.knowledge_base
        ],
        "deletions": [
            {"id": d.id, "name": d.name, "key": d.key, "reason": d.reason} for d in a.deletions
        ],
        "findings": [
            {
                "code": f.code,
                "severity": f.severity.value,
                "message": f.message,
                "key": f.key,
                "file": f.file,
                "line": f.line,
            }
            for f in a.findings
        ],
    }


# --------------------------------------------------------------------------------------------
# Reading


def _read_change(o: JsonObj) -> DocumentChange:
    action = o.enum("action", Action)
    key, doc_type = o.text("key"), o.enum("doc_type", DocType)
    size, notes = o.opt_integer("size_bytes"), tuple(o.texts("notes"))
    if action is Action.DELETE:
        return DeleteDocument(key, doc_type, size, o.text("live_id"), o.text("live_name"), notes)
    name, mode, content = o.text("name"), o.enum("usage_mode", UsageMode), o.text("content_hash")
    fields = o.each(
        "fields", lambda f: FieldChange(f.text("field"), f.opt_text("before"), f.opt_text("after"))
    )
    needs_index = o.flag("needs_index")
    match action:
        case Action.CREATE:
            return CreateDocument(
                key, doc_type, name, mode, content, size,
                reuse_id=o.opt_text("reuse_id"), needs_index=needs_index, notes=notes,
            )  # fmt: skip
        case Action.REPLACE:
            reason = o.opt_text("reason", missing_ok=True)
            return ReplaceDocument(
                key, doc_type, name, mode, content, size, o.text("live_id"), o.text("live_name"),
                reuse_id=o.opt_text("reuse_id"), needs_index=needs_index, fields=fields,
                notes=notes,
                reason=ReplaceReason.CONTENT if reason is None else o.enum("reason", ReplaceReason),
                diff=o.opt_text("diff", missing_ok=True),
            )  # fmt: skip
        case Action.UPDATE:
            return UpdateDocument(
                key, doc_type, name, mode, content, size, o.text("live_id"), o.text("live_name"),
                needs_index=needs_index, fields=fields, notes=notes,
            )  # fmt: skip
        case Action.REINDEX:
            return ReindexDocument(
                key, doc_type, name, mode, content, size, o.text("live_id"), o.text("live_name"),
                index_status=o.opt_text("index_status", missing_ok=True), notes=notes,
            )  # fmt: skip
        case Action.NOOP:
            live_id, live_name = o.text("live_id"), o.text("live_name")
            if needs_index:  # version 1: a re-index was a noop with needs_index
                return ReindexDocument(
                    key, doc_type, name, mode, content, size, live_id, live_name, notes=notes
                )
            return KeepDocument(key, doc_type, name, mode, content, size, live_id, live_name, notes)
        case _:
            assert_never(action)


def _read_agent(
    o: JsonObj, grouped: dict[tuple[str, str], list[DocumentChange]], *, v1: bool
) -> AgentPlan:
    manifest, agent_id = o.text("manifest"), o.text("agent_id")
    policy = o.obj("policy")
    delete_wait = policy.opt_number("delete_wait", missing_ok=True)  # absent in older plan files
    agent = AgentPlan(
        manifest=manifest,
        project=o.text("project"),
        environment=o.text("environment"),
        agent_id=agent_id,
        fingerprint=o.text("fingerprint"),
        embedding_model=o.text("embedding_model"),
        changes=tuple(grouped.pop((manifest, agent_id), ())),
        rag_changes=o.each(
            "rag_changes",
            lambda r: RagChange(r.text("field"), r.scalar("before"), r.scalar("after")),
        ),
        orphans=o.each(
            "orphans",
            lambda r: Orphan(
                r.text("id"), r.text("name"), r.text("key"), r.text("hash12"), r.text("fate")
            ),
        ),
        unmanaged=o.each(
            "unmanaged",
            lambda r: KbEntry(
                r.text("id"),
                r.text("name"),
                r.enum("doc_type", DocType),
                r.enum("usage_mode", UsageMode),
            ),
        ),
        knowledge_base=o.each(
            "knowledge_base",
            lambda r: TargetEntry(
                r.opt_text("key"),
                r.opt_text("id"),
                r.text("name"),
                r.enum("doc_type", DocType),
                r.enum("usage_mode", UsageMode),
            ),
        ),
        deletions=o.each(
            "deletions",
            lambda r: Deletion(r.text("id"), r.text("name"), r.text("key"), r.text("reason")),
        ),
        findings=o.each(
            "findings",
            lambda r: Finding(
                r.text("code"),
                r.enum("severity", Severity),
                r.text("message"),
                r.opt_text("key"),
                # Absent in plan files written before findings had a place: None.
                r.opt_text("file", missing_ok=True),
                r.opt_integer("line", missing_ok=True),
            ),
        ),
        protect=o.flag("protect"),
        endpoint=o.opt_text("endpoint", missing_ok=True) or "",
        policy=Policy(
            index_timeout=policy.number("index_timeout"),
            small_documents=policy.enum("small_documents", SmallDocumentPolicy),
            max_deletes=policy.integer("max_deletes"),
            delete_wait=Policy().delete_wait if delete_wait is None else delete_wait,
        ),
    )
    if o.obj("summary").raw != _summary(agent.summary, v1=v1):
        raise _inconsistent(f"{o.path}.summary does not match the agent's changes")
    return agent


def _inconsistent(detail: str) -> PlanFileError:
    return PlanFileError("The plan file is inconsistent", detail=detail, hint=HINT)
