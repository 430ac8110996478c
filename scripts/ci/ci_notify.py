"""The workflows' side of `notify: {webhook_env: VARNAME}`: which variables the manifests read
their Slack-compatible webhook URL from (the action exports its `notify-webhook` input under
those names, so `kbctl check` and `kbctl apply` post their own failures), and the drift notice,
which no kbctl command sends: `kbctl plan` is also the pull requests' plan, so the drift job
posts it.

A notice is `{"text": …}` built from the plan's counts and names only, with every known secret
(the API keys and the webhook URL itself) cut out before it is sent. Posting never retries and
never fails the step: a notice is best effort, like kbctl's own. Standard library only (PyYAML
when kbctl's environment provides it); it never runs kbctl.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: Slack cuts messages near 40,000 characters; kbctl's own notices stay under 3,000 too.
MAX_TEXT = 3000
VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]*")
# Names the action never sets from a manifest: they steer the shell, Python, the runner, the
# action or kbctl, or hold a key.
RESERVED = re.compile(
    r"^(PATH|HOME|SHELL|IFS|ENV|BASH_ENV|PYTHON.*|LD_.*|GITHUB_.*|RUNNER_.*|ACTIONS_.*|CI"
    r"|KBCTL_(DEBUG|COMMAND|ENVIRONMENT|MANIFEST|ARGS|NAME|PLAN_FILE|ALLOW_DESTROY|REQUIRE_HEAD"
    r"|STATE_BRANCH|SNAPSHOT|SNAPSHOT_DIR|BASE|PATHS|VARS|GITHUB_TOKEN|OUT_DIR|EXE|PYTHON"
    r"|VERSION|SOURCE|DESTROY_LABEL|API_KEY_ENV|OPENAI_API_KEY_ENV)|.*_API_KEY)$"
)
_WEBHOOK_ENV = re.compile(r"^\s+webhook_env:\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def webhook_env(manifest: Path) -> str | None:
    """The variable `manifest`'s `notify.webhook_env` names (None: no notify, or unreadable)."""
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        import yaml
    except ImportError:  # kbctl's environment has PyYAML; a bare python3 reads the simple form
        found = _WEBHOOK_ENV.search(text) if re.search(r"^notify:", text, re.MULTILINE) else None
        name = found.group(1) if found else None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return None
        notify = data.get("notify") if isinstance(data, dict) else None
        name = notify.get("webhook_env") if isinstance(notify, dict) else None
    if not isinstance(name, str) or not VARIABLE.fullmatch(name) or RESERVED.match(name):
        return None
    return name


def webhook_vars(manifests: Iterable[Path]) -> list[str]:
    """Every variable the manifests read a webhook URL from, in order, once each."""
    names = (webhook_env(m) for m in manifests)
    return list(dict.fromkeys(name for name in names if name))


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (of 4 characters or more) replaced by `***`."""
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _counts(summary: Mapping[str, Any]) -> str:
    words = ("create", "replace", "update", "delete", "reindex")
    parts = [
        f"{summary[w]} to {w}" for w in words if isinstance(summary.get(w), int) and summary[w]
    ]
    return ", ".join(parts) or "changes"


def drift_notices(plan: Mapping[str, Any], run_url: str | None) -> dict[str, str]:
    """manifest path → the drift notice for its agents that differ from it (none: no drift)."""
    environment = str(plan.get("environment", "?"))
    by_manifest: dict[str, list[str]] = {}
    for agent in plan.get("agents") or []:
        if not isinstance(agent, dict) or not agent.get("has_changes"):
            continue
        summary = agent.get("summary") if isinstance(agent.get("summary"), dict) else {}
        line = f"{agent.get('project', '?')} agent {agent.get('agent_id', '?')}: {_counts(summary)}"
        by_manifest.setdefault(str(agent.get("manifest", "")), []).append(line)
    where = f"\nWorkflow run: {run_url}" if run_url else ""
    return {
        manifest: _cut(
            f"kbctl drift: the live {environment} knowledge base differs from the manifests "
            f"({manifest or 'manifests'})\n" + "\n".join(lines) + where
        )
        for manifest, lines in by_manifest.items()
    }


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def post(url: str, text: str, timeout: float = 10.0) -> str | None:
    """POST `{"text": text}` to `url`; None when accepted, else what went wrong (no URL in it)."""
    if not url.startswith(("https://", "http://")):
        return "the webhook URL is not an http(s) URL"
    body = json.dumps({"text": text}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as err:
        return f"the webhook answered HTTP {err.code}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        return f"the webhook could not be reached ({type(err).__name__})"
    return None if 200 <= status < 300 else f"the webhook answered HTTP {status}"


def notify_drift(
    plan_path: Path, environ: Mapping[str, str], secret_names: Iterable[str], run_url: str | None
) -> list[str]:
    """Post the drift notice of each drifting manifest to its webhook; one line per outcome
    (for the log: "sent" or why not; never a URL)."""
    try:
        plan = json.loads(plan_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(plan, dict):
        return []
    secrets = [environ.get(name, "") for name in secret_names]
    lines: list[str] = []
    for manifest, text in drift_notices(plan, run_url).items():
        variable = webhook_env(Path(manifest)) if manifest else None
        if variable is None:
            continue  # this manifest asks for no notices
        url = environ.get(variable, "")
        if not url:
            lines.append(f"notify: {variable} is not set, so no drift notice was sent")
            continue
        problem = post(url, redact(text, [*secrets, url]))
        lines.append(
            f"notify: drift notice sent ({variable})"
            if problem is None
            else f"notify: the drift notice was not delivered: {problem}"
        )
    return lines
