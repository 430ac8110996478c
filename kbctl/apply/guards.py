"""The checks apply makes before it changes anything: the plan's findings, and its content.

Owns turning the planner's `Finding`s into a refusal or into warnings: documents too small under
policy `fail` stop at the index gate (exit 3) before any upload; deletions that `protect`,
`max_deletes` or "remove everything" guard need `--allow-destroy` (exit 5). The planner decides
what is found; this module decides only what apply does about it. It also checks that every
document the plan uploads still has the planned content in the manifest. No I/O.
"""

from __future__ import annotations

from kbctl.errors import ApplyError, IndexGateError, PolicyError, StalePlanError
from kbctl.model import DocumentSpec, Target
from kbctl.plan.types import Action, AgentPlan, DocumentChange, Finding, Severity

#: Findings that `--allow-destroy` overrides.
DESTROY_CODES = frozenset({"max_deletes", "protected", "destroy_all"})
#: Findings that stop apply at the gate before anything is created.
GATE_CODES = frozenset({"small_document"})
#: Findings that are only a forecast: the gate sees the real answer (`rag_limit_exceeded`).
FORECAST_CODES = frozenset({"quota_exceeded"})


def check_guards(plan: AgentPlan, *, allow_destroy: bool) -> tuple[str, ...]:
    """Raise when the plan must not run; return the warnings to show when it may.

    Raises:
        IndexGateError: a document is too small to index and policy is `fail`.
        PolicyError: a guarded deletion without `allow_destroy`, or an error finding apply
            does not know how to get past.
    """
    where = plan.where
    errors = [f for f in plan.findings if f.severity is Severity.ERROR]
    small = [f for f in errors if f.code in GATE_CODES]
    if small:
        raise IndexGateError(
            f"{len(small)} document(s) of {where} are too small to index under policy `fail`",
            detail=_lines(small),
            hint=(
                f"Nothing was created and {plan.words.the} is unchanged. Merge small documents, "
                "set usage_mode: prompt on them, or set policy.small_documents to prompt or skip."
            ),
        )
    destroy = [f for f in errors if f.code in DESTROY_CODES]
    if destroy and not allow_destroy:
        doomed = "\n".join(f"- {d.key}  ({d.reason}, {d.id})" for d in plan.deletions)
        detail = _lines(destroy)
        if doomed:
            detail += "\nDocuments apply would delete or detach:\n" + doomed
        raise PolicyError(
            f"Refusing to apply to {where}: it removes documents a policy protects",
            detail=detail,
            hint="Review the plan; if the removals are intended, re-run with --allow-destroy.",
        )
    others = [f for f in errors if f.code not in DESTROY_CODES | GATE_CODES | FORECAST_CODES]
    if others:
        raise PolicyError(
            f"Refusing to apply to {where}: the plan has errors",
            detail=_lines(others),
            hint="Fix the manifest (or the workspace) and run kbctl plan again.",
        )
    warnings = [f.message for f in plan.findings if f.severity is Severity.WARNING]
    warnings += [f"{f.message} (allowed by --allow-destroy)" for f in destroy]
    warnings += [f.message for f in errors if f.code in FORECAST_CODES]
    return tuple(warnings)


def uploads(change: DocumentChange) -> bool:
    """True when apply must upload this change's content (a create or replace, not reused)."""
    return change.action in (Action.CREATE, Action.REPLACE) and change.reuse_id is None


def upload_specs(plan: AgentPlan, target: Target) -> dict[str, DocumentSpec]:
    """The manifest content of every document the plan uploads, by key.

    Raises:
        StalePlanError: the manifest no longer has that content (edited since the plan).
        ApplyError: the plan writes an entry it neither creates nor reuses (a planner bug).
    """
    where = plan.where
    by_key = {spec.key: spec for spec in target.documents}
    specs: dict[str, DocumentSpec] = {}
    for change in plan.changes:
        if not uploads(change):
            continue
        spec = by_key.get(change.key)
        if spec is None or spec.content_hash != change.content_hash:
            raise StalePlanError(
                f"The manifest changed since the plan for {where} was made",
                detail=f"{change.key}: its content is not the one the plan uploads.",
                hint="Run kbctl plan again.",
            )
        specs[change.key] = spec
    held = set(specs) | {c.key for c in plan.changes if c.reuse_id}
    for entry in plan.knowledge_base:
        if entry.id is None and entry.key not in held:
            raise ApplyError(
                f"The plan for {where} is inconsistent",
                detail=f"{entry.key}: no id, and the plan neither creates nor reuses it.",
                hint="Run kbctl plan again; if it persists, report it.",
            )
    return specs


def _lines(findings: list[Finding]) -> str:
    return "\n".join(f"- {f.message}" for f in findings)
