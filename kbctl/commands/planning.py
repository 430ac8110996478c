"""`validate` and `plan` as functions: manifests in, a report or a `Plan` value out.

Reads the manifests and the live workspace through the session; never prints. The verdict
(`plan_verdict`) says which exit a plan deserves: apply certain to fail (1), refused by policy
(5), or nothing in the way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from fnmatch import fnmatchcase
from pathlib import Path

from kbctl.apply.guards import DESTROY_CODES
from kbctl.apply.staging import refuse_live_rollout
from kbctl.commands.session import Session, load_targets, manifest_paths
from kbctl.contentdiff import attach_diffs
from kbctl.errors import KbctlError, PolicyError, UsageError
from kbctl.identity import HASH_CHARS
from kbctl.manifest.validation import ValidationReport
from kbctl.model import DocType, LiveState, Target
from kbctl.observe import observe
from kbctl.plan.scope import make_scoped_plan
from kbctl.plan.types import Plan, Scope, Severity
from kbctl.snapshots.store import SnapshotStore


def validate(
    session: Session, files: Sequence[str | Path] = (), environment: str | None = None
) -> ValidationReport:
    """Check manifests offline (schema, keys, files, `${VAR}`s, checks); never raises for them.

    Call `report.raise_for_errors()` to turn problems into a `ManifestError`.
    """
    from kbctl.manifest import manifest_paths as explicit_paths
    from kbctl.manifest import validate as validate_manifests

    paths = explicit_paths(tuple(session.path(f) for f in files), session.cwd)
    return validate_manifests(paths, session.environ, environment)


@dataclass(frozen=True, slots=True)
class PlanRun:
    """A plan and the targets it was made for (same order as `plan.agents`)."""

    plan: Plan
    targets: tuple[Target, ...]
    live: tuple[LiveState, ...]


def read_live(
    session: Session,
    targets: Sequence[Target],
    *,
    concurrency: int = 8,
    refresh_content: bool = False,
) -> tuple[LiveState, ...]:
    """The live state of every target's agent (documents, agent, RAG quota), with the index
    health and in-place edits the planner needs (`kbctl.observe`)."""
    states: list[LiveState] = []
    for target in targets:
        with session.open(target, concurrency=concurrency) as handle:
            if target.rollout.staged:  # no second rollout beside a live canary
                refuse_live_rollout(
                    handle.branches, target.agent_id, target.project, target.environment
                )
            states.append(observe(target, handle.provider, refresh_content=refresh_content))
    return tuple(states)


def plan(
    session: Session,
    environment: str,
    files: Sequence[str | Path] = (),
    *,
    refresh_content: bool = False,
    diff: bool = True,
    concurrency: int = 8,
    scope: Scope | None = None,
) -> PlanRun:
    """Diff the manifests' `environment` against the live workspace; changes nothing.

    `refresh_content` reads every managed document's live content (not only the ones whose
    listing says they may have been edited in place). With `diff` (the default), every replace
    of a text document carries a unified diff of its live content against the declared one
    (`kbctl.contentdiff`); without it no content is read for diffs. `scope` limits the plan to
    some documents (`--target`) and forces replacements (`--replace`, `--replace-all`).
    """
    scope = scope or Scope()
    targets = load_targets(session, files, environment)
    with ExitStack() as stack:
        handles = [stack.enter_context(session.open(t, concurrency=concurrency)) for t in targets]
        for target, handle in zip(targets, handles, strict=True):
            if target.rollout.staged:  # no second rollout beside a live canary
                refuse_live_rollout(
                    handle.branches, target.agent_id, target.project, target.environment
                )
        live = tuple(
            observe(t, h.provider, refresh_content=refresh_content)
            for t, h in zip(targets, handles, strict=True)
        )
        made = make_scoped_plan(environment, list(zip(targets, live, strict=True)), scope)
        check_scope(scope, targets, made)
        if diff:
            by_agent = {
                (t.manifest, t.agent_id): (t, h) for t, h in zip(targets, handles, strict=True)
            }
            agents, local = [], local_blobs(session)
            for agent in made.agents:
                target, handle = by_agent[(agent.manifest, agent.agent_id)]
                agents.append(
                    attach_diffs(
                        agent,
                        target,
                        handle.provider.document_content,
                        local=local,
                        redact=session.secrets.redact,
                    )
                )
            made = dc_replace(made, agents=tuple(agents))
    return PlanRun(made, targets, live)


def local_blobs(session: Session) -> Callable[[str], bytes | None] | None:
    """Text content the local snapshots hold, by the 12-character content hash a marker names
    (None without a snapshots folder): a plan's diff reads it instead of the API."""
    if session.snapshots_dir is None or not session.snapshot_folder().is_dir():
        return None
    store = SnapshotStore(session.snapshot_folder())
    try:
        index = store.content_index()
    except KbctlError:
        return None  # a damaged folder: read the API instead
    blobs = {
        digest[:HASH_CHARS]: blob
        for digest, _key, doc_type, blob in index.outline()
        if doc_type == DocType.TEXT.value and blob is not None
    }

    def read(hash12: str) -> bytes | None:
        blob = blobs.get(hash12)
        if blob is None:
            return None
        try:
            return store.read_blob(blob)
        except KbctlError:
            return None

    return read


def check_scope(scope: Scope, targets: Sequence[Target], made: Plan) -> None:
    """Refuse a `--target` or `--replace` pattern that names no document (a typo would make a
    plan that silently does nothing)."""
    keys = {d.key for t in targets for d in t.documents}
    keys |= {c.key for a in made.agents for c in a.changes}
    for flag, patterns in (("--target", scope.targets), ("--replace", scope.replace)):
        for pattern in patterns:
            if not any(fnmatchcase(k, pattern) for k in keys):
                raise UsageError(
                    f"{flag} {pattern} matches no document",
                    detail="Patterns match document keys (paths as the manifest declares them, "
                    "relative to it); * and ? are globs.",
                    hint="kbctl plan lists the keys; quote a glob so the shell does not expand it.",
                )


def plan_verdict(made: Plan, *, allow_destroy: bool = False) -> KbctlError | None:
    """The error `kbctl plan` ends with when apply is certain to fail (exit 1) or would be
    refused by policy (exit 5, unless `allow_destroy`); None when nothing stands in the way.

    Forecasts apply can only discover (the quota when it is unknown) are not findings at all,
    so every error finding here is certain.
    """
    errors = [
        (agent, finding)
        for agent in made.agents
        for finding in agent.findings
        if finding.severity is Severity.ERROR
    ]
    fatal = [(a, f) for a, f in errors if f.code not in DESTROY_CODES]
    if fatal:
        return KbctlError(
            f"The plan for {made.environment} predicts that apply would fail",
            detail="\n".join(f"{a.project}: {f.code}: {f.message}" for a, f in fatal),
            hint="Fix what the findings name (manifest, policy or quota) and run kbctl plan again.",
        )
    refused = [(a, f) for a, f in errors if f.code in DESTROY_CODES]
    if refused and not allow_destroy:
        return PolicyError(
            f"The plan for {made.environment} removes documents a policy protects",
            detail="\n".join(f"{a.project}: {f.code}: {f.message}" for a, f in refused),
            hint="If the removals are intended, apply (and plan) with --allow-destroy.",
        )
    return None


__all__ = [
    "PlanRun",
    "check_scope",
    "manifest_paths",
    "plan",
    "plan_verdict",
    "read_live",
    "validate",
]
