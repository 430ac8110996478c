"""kbctl's Python API: one plain function per command, each taking a `Session`.

    from kbctl.clock import SystemClock
    from kbctl.commands import Session, plan, apply

    session = Session(SystemClock(), environ=os.environ, cwd=Path("."))
    run = apply(session, "local", auto_approve=True)
    print(run.summary)

Functions return values (plans, results, reports) and raise the `kbctl.errors.KbctlError` tree;
none prints, prompts or exits. The CLI (`kbctl.cli`) is a thin shell over them: parse flags →
build a session → call → render → exit code.
"""

from kbctl.commands.applying import ApplyRun, apply, rollback, run_summary
from kbctl.commands.inspecting import (
    CheckRun,
    ShownSnapshot,
    check,
    check_verdict,
    diff_snapshots,
    import_agent,
    import_store,
    list_snapshots,
    show_snapshot,
    status,
    threshold_warnings,
)
from kbctl.commands.notifying import notify_failure
from kbctl.commands.planning import PlanRun, plan, plan_verdict, read_live, validate
from kbctl.commands.rollouts import CanaryDone, drop_canary, live_canaries, promote
from kbctl.commands.session import (
    Endpoint,
    NullProgress,
    Progress,
    ProviderHandle,
    Session,
    connect_provider,
    load_targets,
    manifest_paths,
)
from kbctl.secrets import Secrets
from kbctl.stop import StopSignal

__all__ = [
    "ApplyRun",
    "CanaryDone",
    "CheckRun",
    "Endpoint",
    "NullProgress",
    "PlanRun",
    "Progress",
    "ProviderHandle",
    "Secrets",
    "Session",
    "ShownSnapshot",
    "StopSignal",
    "apply",
    "check",
    "check_verdict",
    "connect_provider",
    "diff_snapshots",
    "drop_canary",
    "import_agent",
    "import_store",
    "list_snapshots",
    "live_canaries",
    "load_targets",
    "manifest_paths",
    "notify_failure",
    "plan",
    "plan_verdict",
    "promote",
    "read_live",
    "rollback",
    "run_summary",
    "show_snapshot",
    "status",
    "threshold_warnings",
    "validate",
]
