#!/usr/bin/env python3
"""Helpers for kbctl's GitHub Actions integration (called by kbctl-run.sh; standard library only,
PyYAML used when present).

    kbctl_ci.py body --kind plan|drift --out-dir DIR [--name NAME]
                                                        the sticky PR comment / drift issue body
    kbctl_ci.py changes --changed FILE [--prefix P] [--manifest F]... [--paths GLOBS]
                                                        which changed files kbctl reads (ci_changes)
    kbctl_ci.py plan-result --plan P --environment E --exit N [--allow-destroy]
    kbctl_ci.py apply-result --events F --exit N --command apply|rollback
                                                        kbctl's conclusion as key=value lines
    kbctl_ci.py progress                                --json events (stdin) → human lines
    kbctl_ci.py export-vars                             $KBCTL_VARS (JSON) → NAME\0VALUE\0 pairs
    kbctl_ci.py slug TEXT                               TEXT as [a-z0-9-]+ (names, artifacts)
    kbctl_ci.py plan-annotations PLAN.json              ::warning/::error lines for plan findings
                                                        (kbctl-run.sh does not call it: `kbctl
                                                        plan` annotates when GITHUB_ACTIONS=true)
    kbctl_ci.py validate-annotations STDERR_FILE        ::warning lines for validate's warnings
    kbctl_ci.py apply-summary EVENTS_FILE               Markdown from apply/rollback --json events
    kbctl_ci.py check-result --report F --environment E --exit N [--errors F]
                                                        `kbctl check --format json`'s conclusion
                                                        (key=value) and its Markdown in F.md
    kbctl_ci.py webhook-vars [--manifest F]...          the variables `notify.webhook_env` names
    kbctl_ci.py notify-drift --plan P [--secret-env NAME]...
                                                        the drift notice to the manifests' webhooks

`body` combines the Markdown plan of every environment planned so far in the job (files
`<kind>-<env>.md|.json|.exit|.err` in DIR, in the order of `<kind>-environments`) under a hidden
marker (`<!-- kbctl-plan -->`, or `<!-- kbctl-plan[NAME] -->` for a named project, so two
projects in one repository keep separate comments and issues), and keeps the whole under
GitHub's comment limit: environments whose plan does not fit are shown by their summary only,
with a pointer to the run's step summary and artifacts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ci_checks import Forms, tail

LIMIT = 65_000  # GitHub's limit is 65,536 characters; keep a margin
MARKERS = {"plan": "<!-- kbctl-plan -->", "drift": "<!-- kbctl-drift -->"}
TITLES = {"plan": "kbctl plan", "drift": "kbctl drift"}
COUNTS = ("create", "replace", "update", "delete", "noop")


def run_url() -> str | None:
    """The URL of this workflow run, when running in GitHub Actions."""
    run_id = os.environ.get("GITHUB_RUN_ID")
    repo = os.environ.get("GITHUB_REPOSITORY")
    if not run_id or not repo:
        return None
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    return f"{server}/{repo}/actions/runs/{run_id}"


def head_sha() -> str | None:
    """The pull request's head commit (else GITHUB_SHA)."""
    event_path = os.environ.get("GITHUB_EVENT_PATH")
    if event_path and Path(event_path).is_file():
        try:
            event = json.loads(Path(event_path).read_text(encoding="utf-8"))
            sha = event.get("pull_request", {}).get("head", {}).get("sha")
            if isinstance(sha, str) and sha:
                return sha
        except (OSError, ValueError, AttributeError):
            pass
    return os.environ.get("GITHUB_SHA") or None


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def load_plan(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def summary_counts(plan: dict[str, Any] | None) -> dict[str, int] | None:
    if plan is None or not isinstance(plan.get("summary"), dict):
        return None
    return {name: int(plan["summary"].get(name, 0) or 0) for name in COUNTS}


def summary_table(counts: dict[str, int]) -> str:
    head = "| " + " | ".join(COUNTS) + " |"
    rule = "|" + "|".join("---:" for _ in COUNTS) + "|"
    row = "| " + " | ".join(str(counts[name]) for name in COUNTS) + " |"
    return "\n".join((head, rule, row))


class Section(Forms):
    """One environment's part of the body, in forms from full to compact (`forms[level]`)."""

    def __init__(self, kind: str, env: str, out_dir: Path, share: int) -> None:
        base = out_dir / f"{kind}-{env}"
        code_text = read(base.with_suffix(".exit")).strip()
        self.env = env
        self.code = int(code_text) if code_text.lstrip("-").isdigit() else 1
        marker = f"<!-- kbctl-plan:{env} -->"
        url = run_url()
        where = f"[workflow run's summary]({url})" if url else "workflow run's summary"
        pointer = f"The full plan is in the {where} and in the plan artifact."
        plan_md = read(base.with_suffix(".md")).strip()
        if self.code in (0, 2) or (self.code == 5 and plan_md):
            full = plan_md
            if self.code == 5:  # refused by policy: the plan says what it would delete
                full = (
                    f"### ⛔ {env}: deletions a policy protects need acknowledgement (exit 5)"
                    f"\n\n{full}"
                )
            if marker not in full:
                full = f"{marker}\n{full}"
            counts = summary_counts(load_plan(base.with_suffix(".json")))
            status = {0: "no changes", 2: "changes"}.get(self.code, "refused (exit 5)")
            table = summary_table(counts) if counts else "_(summary unavailable)_"
            self.forms = [
                full,
                head_of(full, share, f"_The details do not fit in this comment. {pointer}_"),
                f"{marker}\n### {env}: {status}\n\n{table}\n\n"
                f"_The plan is too long for this comment. {pointer}_",
            ]
        else:
            error = tail(read(base.with_suffix(".err"))) or "(no error output)"
            error = error.replace("```", "'''")
            title = f"{marker}\n### ❌ {env}: kbctl plan failed (exit {self.code})"
            self.forms = [
                f"{title}\n\n```\n{error}\n```",
                f"{title}\n\n_See the workflow run's log. {pointer}_",
            ]
        self.level = 0


def head_of(markdown: str, budget: int, note: str) -> str:
    """The plan's summary part (before its first collapsible details), within `budget`."""
    head = markdown.split("<details>", 1)[0].rstrip()
    limit = max(budget - len(note) - 10, 200)
    if len(head) > limit:
        head = head[:limit].rsplit("\n", 1)[0].rstrip() + "\n\n…"
    return f"{head}\n\n{note}"


def marker(kind: str, name: str = "") -> str:
    """The hidden marker of a project's comment (plan) or issue (drift)."""
    base = MARKERS[kind]
    return base if not name else base.replace(" -->", f"[{name}] -->")


def build_body(kind: str, out_dir: Path, name: str = "") -> str:
    from ci_checks import CheckSection

    envs = [line.strip() for line in read(out_dir / f"{kind}-environments").splitlines()]
    envs = [env for env in envs if env]
    # The drift job also runs each environment's retrieval checks: their results follow.
    checked = [line.strip() for line in read(out_dir / "check-environments").splitlines()]
    checked = [env for env in checked if env] if kind == "drift" else []
    share = (LIMIT - 1_000) // max(len(envs) + len(checked), 1)
    sections: list[Section | CheckSection] = [Section(kind, env, out_dir, share) for env in envs]
    checks = [CheckSection(env, out_dir) for env in checked]
    sections += [c for c in checks if c.outcome.status != "no-checks"]  # nothing to say
    title = f"{TITLES[kind]}: {name}" if name else TITLES[kind]
    header = [marker(kind, name), f"## {title}"]
    facts = []
    sha = head_sha()
    if sha:
        facts.append(f"commit `{sha[:12]}`")
    url = run_url()
    if url:
        facts.append(f"[workflow run]({url})")
    if facts:
        header.append(" · ".join(facts))
    if not sections:
        header.append("_No environment was planned._")
    failing = [s.env for s in sections if isinstance(s, CheckSection) and s.outcome.failing]
    if failing:
        header.append(f"**Retrieval checks below a threshold:** {', '.join(failing)}")

    def joined() -> str:
        return "\n\n".join(["\n".join(header), *(s.text for s in sections)]) + "\n"

    body = joined()
    while len(body) > LIMIT:
        for section in sorted(sections, key=lambda s: len(s.text), reverse=True):
            if section.shrink():
                break
        else:
            break
        body = joined()
    if len(body) > LIMIT:  # only with absurdly many environments
        body = body[: LIMIT - 40] + "\n\n_(truncated)_\n"
    return body


def _key_values(values: dict[str, object]) -> str:
    lines = []
    for key, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"{key}={' '.join(text.split())}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    import ci_annotations
    import ci_changes
    import ci_checks
    import ci_env
    import ci_notify
    import ci_results

    parser = argparse.ArgumentParser(prog="kbctl_ci.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    body = sub.add_parser("body")
    body.add_argument("--kind", choices=sorted(MARKERS), required=True)
    body.add_argument("--out-dir", type=Path, required=True)
    body.add_argument("--name", default="")
    sub.add_parser("plan-annotations").add_argument("path", type=Path)
    sub.add_parser("validate-annotations").add_argument("path", type=Path)
    sub.add_parser("apply-summary").add_argument("path", type=Path)
    changes = sub.add_parser("changes")
    changes.add_argument("--changed", type=Path, required=True)
    changes.add_argument("--prefix", default="")
    changes.add_argument("--manifest", action="append", default=[])
    changes.add_argument("--paths", default="")
    plan = sub.add_parser("plan-result")
    plan.add_argument("--plan", type=Path, required=True)
    plan.add_argument("--environment", required=True)
    plan.add_argument("--exit", type=int, required=True)
    plan.add_argument("--allow-destroy", action="store_true")
    applied = sub.add_parser("apply-result")
    applied.add_argument("--events", type=Path, required=True)
    applied.add_argument("--exit", type=int, required=True)
    applied.add_argument("--command", default="apply")
    checked = sub.add_parser("check-result")
    checked.add_argument("--report", type=Path, required=True)
    checked.add_argument("--environment", required=True)
    checked.add_argument("--exit", type=int, required=True)
    checked.add_argument("--errors", type=Path)
    sub.add_parser("webhook-vars").add_argument("--manifest", action="append", default=[])
    drift = sub.add_parser("notify-drift")
    drift.add_argument("--plan", type=Path, required=True)
    drift.add_argument("--secret-env", action="append", default=[])
    sub.add_parser("progress")
    sub.add_parser("export-vars")
    sub.add_parser("slug").add_argument("text")
    args = parser.parse_args(argv)
    if args.cmd == "body":
        sys.stdout.write(build_body(args.kind, args.out_dir, args.name))
    elif args.cmd == "apply-summary":
        sys.stdout.write(ci_results.apply_summary(args.path))
    elif args.cmd == "changes":
        prefix = args.prefix.strip("/")
        join = (lambda p: f"{prefix}/{p}") if prefix else (lambda p: p)
        files = [Path(m) for m in args.manifest] or sorted(Path("manifests").glob("*.yaml"))
        dirs = sorted({join(str(f.parent)) for f in files} or {join("manifests")})
        changed = [line.strip() for line in read(args.changed).splitlines()]
        relevant, reason = ci_changes.relevant_changes(
            changed, [(f, join(str(f))) for f in files], dirs, args.paths.split()
        )
        sys.stdout.write(
            _key_values({"changed": bool(relevant), "count": len(relevant), "reason": reason or ""})
        )
        for path in relevant:
            print(f"file={path}")
    elif args.cmd == "plan-result":
        outcome = ci_results.plan_result(args.plan, args.environment, args.exit, args.allow_destroy)
        sys.stdout.write(
            _key_values(
                {
                    "status": outcome.status,
                    "ok": outcome.ok,
                    "has-changes": outcome.has_changes,
                    "message": outcome.message,
                }
            )
        )
    elif args.cmd == "apply-result":
        outcome = ci_results.apply_result(args.events, args.exit, args.command)
        sys.stdout.write(
            _key_values(
                {
                    "status": outcome.status,
                    "ok": outcome.ok,
                    "message": outcome.message,
                }
            )
        )
    elif args.cmd == "check-result":
        found = ci_checks.check_result(args.report, args.exit)
        sys.stdout.write(
            _key_values(
                {"status": found.status, "failing": found.failing, "message": found.message}
            )
        )
        errors = read(args.errors) if args.errors else ""
        summary = ci_checks.markdown(args.environment, args.report, args.exit, tail(errors))
        Path(f"{args.report}.md").write_text(summary, encoding="utf-8")
    elif args.cmd == "webhook-vars":
        files = [Path(m) for m in args.manifest] or sorted(Path("manifests").glob("*.yaml"))
        for variable in ci_notify.webhook_vars(files):
            print(variable)
    elif args.cmd == "notify-drift":
        for line in ci_notify.notify_drift(args.plan, os.environ, args.secret_env, run_url()):
            print(line)
    elif args.cmd == "progress":
        ci_results.progress(sys.stdin, sys.stdout)
    elif args.cmd == "export-vars":
        sys.stdout.buffer.write(
            ci_env.export_vars(os.environ.get("KBCTL_VARS", ""), dict(os.environ))
        )
    elif args.cmd == "slug":
        print(ci_env.slug(args.text))
    else:
        is_plan = args.cmd == "plan-annotations"
        lines = (
            ci_annotations.plan_annotations(args.path)
            if is_plan
            else ci_annotations.validate_annotations(args.path)
        )
        for line in lines:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
