"""The git commit a snapshot records: `git rev-parse HEAD` of the current directory, if any.

Called at the CLI edge only (core code is handed the result). Any failure (not a repository, no
git installed, no commit yet) means "unknown", never an error.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def current_commit(cwd: Path | None = None) -> str | None:
    """The full commit id of HEAD in `cwd` (default: the current directory), or None."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    if done.returncode != 0 or len(commit) not in (40, 64):
        return None
    return commit
