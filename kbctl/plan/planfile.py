"""Plan ↔ canonical JSON: what `kbctl plan --out` writes and `kbctl apply PLAN.json` reads.

The format is documented in `docs/plan-format.md`. `dumps` is canonical (sorted keys, lists in
plan order, indent 2, trailing newline), so the same plan always gives the same bytes, and
`loads(dumps(plan)) == plan`. `loads` checks every field it needs and raises `PlanFileError`
(summary, detail with the JSON path, hint) for anything it cannot read. No file I/O here: the
CLI reads and writes the text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from kbctl.errors import PlanFileError
from kbctl.model import DocType, KbEntry, Policy, SmallDocumentPolicy, UsageMode
from kbctl.plan.types import (
    FORMAT_VERSION,
    Action,
    AgentPlan,
    Deletion,
    DocumentChange,
    FieldChange,
    Finding,
    Orphan,
    Plan,
    RagChange,
    RagValue,
    Severity,
    Summary,
    TargetEntry,
)

__all__ = ["dumps", "loads", "plan_to_dict"]

_HINT = (
    "Make a new one with `kbctl plan -e ENV --out PLAN.json`; plan files are not edited by hand."
)

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


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
        "summary": _summary(plan.summary),
        "changes": [_change(agent, c) for agent in plan.agents for c in agent.changes],
        "agents": [_agent(agent) for agent in plan.agents],
    }


def loads(text: str) -> Plan:
    """Read a plan written by `dumps`. Raises PlanFileError when it cannot."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PlanFileError("The plan file is not valid JSON", detail=str(exc), hint=_HINT) from exc
    root = _Obj(data, "$")
    version = root.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise PlanFileError(
            f"Unknown plan format version: {version!r}",
            detail=f"This kbctl reads plan format version {FORMAT_VERSION}.",
            hint="Apply a plan with the same kbctl version that made it, or make a new plan.",
        )
    environment = root.text("environment")
    grouped: dict[tuple[str, str], list[DocumentChange]] = {}
    for item in root.objects("changes"):
        owner = (item.text("manifest"), item.text("agent_id"))
        grouped.setdefault(owner, []).append(_read_change(item))
    items = root.objects("agents")
    owners = {(item.text("manifest"), item.text("agent_id")) for item in items}
    for manifest, agent_id in sorted(grouped.keys() - owners):
        raise _inconsistent(f"changes name agent {agent_id} of {manifest}, which is not in agents")
    agents = tuple(_read_agent(item, grouped) for item in items)
    plan = Plan(environment=environment, agents=agents, format_version=FORMAT_VERSION)
    if root.text("fingerprint") != plan.fingerprint:
        raise _inconsistent("$.fingerprint does not match the agents' fingerprints")
    if root.obj("summary").raw != _summary(plan.summary):
        raise _inconsistent("$.summary does not match the changes")
    return plan


# --------------------------------------------------------------------------------------------
# Writing


def _summary(summary: Summary) -> dict[str, object]:
    return {
        "create": summary.create,
        "replace": summary.replace,
        "update": summary.update,
        "delete": summary.delete,
        "noop": summary.noop,
    }


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
    }


def _agent(a: AgentPlan) -> dict[str, object]:
    return {
        "manifest": a.manifest,
        "project": a.project,
        "environment": a.environment,
        "agent_id": a.agent_id,
        "fingerprint": a.fingerprint,
        "embedding_model": a.embedding_model,
        "protect": a.protect,
        "policy": {
            "index_timeout": float(a.policy.index_timeout),
            "small_documents": a.policy.small_documents.value,
            "max_deletes": a.policy.max_deletes,
        },
        "has_changes": a.has_changes,
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


def _read_change(o: _Obj) -> DocumentChange:
    usage = o.opt_text("usage_mode")
    return DocumentChange(
        action=o.enum("action", Action),
        key=o.text("key"),
        doc_type=o.enum("doc_type", DocType),
        name=o.opt_text("name"),
        usage_mode=None if usage is None else o.enum("usage_mode", UsageMode),
        content_hash=o.opt_text("content_hash"),
        size_bytes=o.opt_integer("size_bytes"),
        live_id=o.opt_text("live_id"),
        live_name=o.opt_text("live_name"),
        reuse_id=o.opt_text("reuse_id"),
        needs_index=o.flag("needs_index"),
        fields=o.each(
            "fields",
            lambda f: FieldChange(f.text("field"), f.opt_text("before"), f.opt_text("after")),
        ),
        notes=tuple(o.texts("notes")),
    )


def _read_agent(o: _Obj, grouped: dict[tuple[str, str], list[DocumentChange]]) -> AgentPlan:
    manifest, agent_id = o.text("manifest"), o.text("agent_id")
    policy = o.obj("policy")
    agent = AgentPlan(
        manifest=manifest,
        project=o.text("project"),
        environment=o.text("environment"),
        agent_id=agent_id,
        fingerprint=o.text("fingerprint"),
        embedding_model=o.text("embedding_model"),
        changes=tuple(grouped.pop((manifest, agent_id), ())),
        rag_changes=o.each(
            "rag_changes", lambda r: RagChange(r.text("field"), r.rag("before"), r.rag("after"))
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
        policy=Policy(
            index_timeout=policy.number("index_timeout"),
            small_documents=policy.enum("small_documents", SmallDocumentPolicy),
            max_deletes=policy.integer("max_deletes"),
        ),
    )
    if o.obj("summary").raw != _summary(agent.summary):
        raise _inconsistent(f"{o.path}.summary does not match the agent's changes")
    return agent


def _inconsistent(detail: str) -> PlanFileError:
    return PlanFileError("The plan file is inconsistent", detail=detail, hint=_HINT)


class _Obj:
    """A JSON object being read, with its JSON path for error messages."""

    def __init__(self, raw: object, path: str) -> None:
        if not isinstance(raw, dict):
            raise _bad(path, "an object")
        self.raw: dict[str, object] = raw
        self.path = path

    def get(self, name: str) -> object:
        if name not in self.raw:
            raise PlanFileError(
                "The plan file is missing a field", detail=f"{self.path}.{name}", hint=_HINT
            )
        return self.raw[name]

    def text(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str):
            raise _bad(f"{self.path}.{name}", "a string")
        return value

    def opt_text(self, name: str, *, missing_ok: bool = False) -> str | None:
        if missing_ok and name not in self.raw:
            return None
        return None if self.get(name) is None else self.text(name)

    def integer(self, name: str) -> int:
        value = self.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _bad(f"{self.path}.{name}", "an integer")
        return value

    def opt_integer(self, name: str, *, missing_ok: bool = False) -> int | None:
        if missing_ok and name not in self.raw:
            return None
        return None if self.get(name) is None else self.integer(name)

    def number(self, name: str) -> float:
        value = self.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _bad(f"{self.path}.{name}", "a number")
        return float(value)

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if not isinstance(value, bool):
            raise _bad(f"{self.path}.{name}", "true or false")
        return value

    def rag(self, name: str) -> RagValue:
        value = self.get(name)
        if value is not None and not isinstance(value, bool | int | float | str):
            raise _bad(f"{self.path}.{name}", "a string, number, boolean or null")
        return value

    def enum(self, name: str, cls: type[E]) -> E:
        value = self.text(name)
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise _bad(f"{self.path}.{name}", f"one of {allowed}") from None

    def obj(self, name: str) -> _Obj:
        return _Obj(self.get(name), f"{self.path}.{name}")

    def objects(self, name: str) -> list[_Obj]:
        return [_Obj(item, f"{self.path}.{name}[{i}]") for i, item in enumerate(self._list(name))]

    def each(self, name: str, read: Callable[[_Obj], T]) -> tuple[T, ...]:
        return tuple(read(item) for item in self.objects(name))

    def texts(self, name: str) -> list[str]:
        items = self._list(name)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise _bad(f"{self.path}.{name}[{i}]", "a string")
        return [item for item in items if isinstance(item, str)]

    def _list(self, name: str) -> list[object]:
        value = self.get(name)
        if not isinstance(value, list):
            raise _bad(f"{self.path}.{name}", "a list")
        return value


def _bad(path: str, expected: str) -> PlanFileError:
    return PlanFileError(
        "The plan file has a bad field", detail=f"{path}: expected {expected}", hint=_HINT
    )
