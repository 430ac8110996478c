"""Plan ↔ canonical JSON: what `kbctl plan --out` writes and `kbctl apply PLAN.json` reads.

The format is documented in `docs/plan-format.md`; the objects are shaped by
`kbctl.plan.planjson`. `dumps` is canonical (sorted keys, lists in plan order, indent 2, trailing
newline), so the same plan always gives the same bytes. Format 3 summarises unchanged documents
(counts and digests, not one entry each), so `loads(dumps(plan)) == unlisted(plan)`, the plan
with its `noop` changes and `knowledge_base` summarised (`kbctl.apply.saved` checks such a plan
against one made now and applies that). Versions 1 and 2 are read whole. `loads` checks every
field it needs and raises `PlanFileError` (summary, detail with the JSON path, hint) for
anything it cannot read. No file I/O here: the CLI reads and writes the text.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import assert_never

from kbctl.errors import PlanFileError
from kbctl.jsonread import JsonObj, JsonReader
from kbctl.model import DocType, KbEntry, Policy, SmallDocumentPolicy, UsageMode
from kbctl.plan.planjson import plan_to_dict, summary_dict, unlist
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
    TargetEntry,
    Unlisted,
    UpdateDocument,
)

#: Plan format versions this kbctl reads: 1 had no `reindex` action (a re-index was a `noop`
#: with `needs_index`) and no `summary.reindex`; 2 listed every unchanged document and the
#: whole `knowledge_base` (3 summarises them in `unlisted`).
READABLE_VERSIONS = (1, 2, FORMAT_VERSION)

__all__ = ["dumps", "loads", "plan_to_dict", "unlisted"]

HINT = "Make a new one with `kbctl plan -e ENV --out PLAN.json`; plan files are not edited by hand."

#: Plan files are read strictly: every field is written, so an absent one is a damaged file
#: (fields that older versions did not write are read with `missing_ok=True`).
_READER = JsonReader(
    lambda problem: PlanFileError("The plan file has a bad field", detail=problem, hint=HINT),
    missing=lambda path: PlanFileError("The plan file is missing a field", detail=path, hint=HINT),
    keys_required=True,
)


def dumps(plan: Plan, *, list_unchanged: bool = False) -> str:
    """The plan as canonical JSON text (same plan → same bytes); `list_unchanged` lists the
    `noop` changes too (`planjson.plan_to_dict`), and still reads back as the same plan."""
    text = json.dumps(
        plan_to_dict(plan, list_unchanged=list_unchanged),
        sort_keys=True,
        indent=2,
        ensure_ascii=False,
        allow_nan=False,
    )
    return text + "\n"


def unlisted(plan: Plan) -> Plan:
    """`plan` as a plan file reads back: unchanged documents summarised (`planjson.unlist`)."""
    return replace(
        plan, agents=tuple(unlist(a) for a in plan.agents), format_version=FORMAT_VERSION
    )


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
            hint="Make a new plan with this kbctl (`kbctl plan -e ENV --out PLAN.json`), or "
            "apply the file with the kbctl version that made it.",
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
    agents = tuple(_read_agent(item, grouped, version=version) for item in items)
    scope = Scope()
    if root.has("scope"):  # absent in plan files written before targeted runs
        given = root.obj("scope")
        scope = Scope(
            tuple(given.texts("targets")), tuple(given.texts("replace")), given.flag("replace_all")
        )
    plan = Plan(environment=environment, agents=agents, format_version=FORMAT_VERSION, scope=scope)
    if root.text("fingerprint") != plan.fingerprint:
        raise _inconsistent("$.fingerprint does not match the agents' fingerprints")
    if root.obj("summary").raw != summary_dict(plan.summary, v1=v1):
        raise _inconsistent("$.summary does not match the changes")
    return plan


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
    o: JsonObj, grouped: dict[tuple[str, str], list[DocumentChange]], *, version: object
) -> AgentPlan:
    manifest, agent_id = o.text("manifest"), o.text("agent_id")
    changes = tuple(grouped.pop((manifest, agent_id), ()))
    listed = version in (1, 2)  # format 3 summarises noops and the array in `unlisted`
    summarised: Unlisted | None = None
    if not listed:
        given = o.obj("unlisted")
        summarised = Unlisted(
            given.integer("noop"),
            given.text("noop_digest"),
            given.integer("knowledge_base"),
            given.text("knowledge_base_digest"),
        )
        # `kbctl plan --format json` lists the unchanged documents too: the counts must agree,
        # and the summary (`unlisted`) is what the plan holds.
        noops = sum(1 for c in changes if c.action is Action.NOOP)
        if noops not in (0, summarised.noop):
            raise _inconsistent(
                f"agent {agent_id} lists {noops} noop change(s), but its summary counts "
                f"{summarised.noop}"
            )
        changes = tuple(c for c in changes if c.action is not Action.NOOP)
    policy = o.obj("policy")
    delete_wait = policy.opt_number("delete_wait", missing_ok=True)  # absent in older plan files
    agent = AgentPlan(
        manifest=manifest,
        project=o.text("project"),
        environment=o.text("environment"),
        agent_id=agent_id,
        fingerprint=o.text("fingerprint"),
        embedding_model=o.text("embedding_model"),
        changes=changes,
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
        )
        if listed
        else (),
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
        unlisted=summarised,
    )
    if o.obj("summary").raw != summary_dict(agent.summary, v1=version == 1):
        raise _inconsistent(f"{o.path}.summary does not match the agent's changes")
    return agent


def _inconsistent(detail: str) -> PlanFileError:
    return PlanFileError("The plan file is inconsistent", detail=detail, hint=HINT)
