"""What the action takes from the job into kbctl's environment — the repository's configuration
variables (`toJSON(vars)`), so manifests can read agent ids and the like as ${NAME} — and the
slugs it makes names from (artifact names).

Standard library only. It never overrides a variable the step already has, and never takes
names that steer the shell, Python, the runner or the action itself.
"""

from __future__ import annotations

import json
import re

# Variables the action never takes from the repository's configuration variables.
RESERVED_VARS = re.compile(
    r"^(PATH|HOME|SHELL|IFS|ENV|BASH_ENV|PYTHON.*|LD_.*|GITHUB_.*|RUNNER_.*|ACTIONS_.*|KBCTL_.*|CI)$"
)


def export_vars(text: str, environ: dict[str, str]) -> bytes:
    """NAME\0VALUE\0 pairs for the JSON object `text` (`toJSON(vars)`), so manifests can read
    any configuration variable as ${NAME}; names already set or reserved are left out."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return b""
    out = b""
    if not isinstance(data, dict):
        return out
    for name, value in sorted(data.items()):
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        if RESERVED_VARS.match(name.upper()) or name in environ or not isinstance(value, str):
            continue
        if "\0" in value:
            continue
        out += name.encode() + b"\0" + value.encode() + b"\0"
    return out


def slug(text: str) -> str:
    """`text` as lowercase letters, digits and single dashes (never empty)."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned or "kbctl"
