"""Which changed files matter to kbctl: the manifests and the documents they read.

`kbctl_ci.py changes` uses it to let the plan check report green at once on a pull request that
touches nothing kbctl reads, and to start no apply (and ask no reviewer) for such a merge. It
reads the manifests' YAML (with PyYAML when kbctl's environment provides it) and errs on the
side of "relevant": an unreadable manifest, a manifest folder change or a missing YAML parser all
count as a change. It never plans, never touches the network and never imports kbctl.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob (`*`, `?`, `[...]`, `**` for any depth) as a regular expression."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _documents(data: Any) -> Iterable[dict[str, Any]]:
    """Every document entry of a manifest, its environments' included."""
    if not isinstance(data, dict):
        return
    lists = [data.get("documents")]
    environments = data.get("environments")
    if isinstance(environments, dict):
        lists += [env.get("documents") for env in environments.values() if isinstance(env, dict)]
    for entries in lists:
        if isinstance(entries, list):
            yield from (entry for entry in entries if isinstance(entry, dict))


def manifest_patterns(manifest: Path, repo_path: str) -> list[str] | None:
    """Repository-relative globs of what `manifest` reads (itself included); None when its
    documents cannot be told (no YAML parser, or unreadable YAML)."""
    try:
        import yaml
    except ImportError:
        return None
    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None
    base = PurePosixPath(repo_path).parent
    patterns = [repo_path]
    for entry in _documents(data):
        for field in ("glob", "file"):
            value = entry.get(field)
            if isinstance(value, str) and value:
                # The document, and a sidecar metadata file beside it.
                patterns.append(posixpath.normpath(str(base / value)))
                patterns.append(posixpath.normpath(str(base / f"{value}.metadata.yaml")))
    return patterns


def relevant_changes(
    changed: Iterable[str],
    manifests: Iterable[tuple[Path, str]],
    manifest_dirs: Iterable[str],
    extra: Iterable[str] = (),
) -> tuple[list[str], str | None]:
    """(changed files kbctl reads, why everything counts or None).

    `manifests` are (file on disk, path relative to the repository); `manifest_dirs` are the
    repository-relative folders holding them (any change there counts: a new manifest, say);
    `extra` are more repository-relative globs (the workflow's `paths` input).
    """
    changed = [path for path in changed if path]
    patterns: list[str] = [f"{d.rstrip('/')}/**" for d in manifest_dirs if d]
    patterns += [p for p in extra if p]
    for disk, repo_path in manifests:
        found = manifest_patterns(disk, repo_path)
        if found is None:
            return changed, f"could not read {repo_path}: every change counts"
        patterns += found
    regexes = [glob_regex(pattern.removeprefix("./")) for pattern in patterns]
    return [path for path in changed if any(r.match(path) for r in regexes)], None
