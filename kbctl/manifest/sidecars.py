"""Sidecar metadata files: `<file>.metadata.yaml` beside a document file (OpenAI only).

Owns finding, reading and validating sidecars: the same containment as documents (inside the
repository, regular files, never `.git/`, checked before anything is opened), YAML through
`yamlpos`, the schema's `metadata` rules through `schema`, with problems reported at the
sidecar's own file and line. Sidecars are read only for manifests with an OpenAI environment;
ElevenLabs has no per-document metadata, so an ElevenLabs-only manifest ignores them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from kbctl.errors import Diagnostic
from kbctl.manifest.containment import RefusedPath, read_contained
from kbctl.manifest.decl import Loc, Sidecar, Where
from kbctl.manifest.providers import metadata_of
from kbctl.manifest.schema import check_metadata
from kbctl.manifest.sources import SIDECAR_SUFFIX
from kbctl.manifest.yamlpos import PathParts, format_path, parse_yaml


def sidecar_name(key: str) -> str:
    """The sidecar's path for the document file `key` (both relative to the manifest)."""
    return key + SIDECAR_SUFFIX


def read_sidecars(
    keys: Iterable[tuple[str, Loc]], where: Where, file: str
) -> tuple[dict[str, Sidecar], list[Diagnostic]]:
    """The sidecars of the document files `keys` (each with its declaration), by document key.

    Args:
        keys: document paths relative to the manifest's directory, with where each is declared.
        where: the manifest's directory and the repository boundary.
        file: the manifest, as given (problems of access are reported on its line).
    """
    found: dict[str, Sidecar] = {}
    diagnostics: list[Diagnostic] = []
    for key, loc in keys:
        if key in found:
            continue
        rel = sidecar_name(key)
        path = os.path.join(where.base_dir, rel)
        if not os.path.lexists(path):
            continue
        shown = rel if where.shown_dir == "." else f"{where.shown_dir}/{rel}"
        try:
            raw = read_contained(where.root, path)
        except (RefusedPath, OSError) as err:
            if isinstance(err, RefusedPath):
                why = f"{err}: sidecars must be regular files inside the repository"
            else:
                why = f"cannot be read: {err.strerror or err}"
            diagnostics.append(Diagnostic(file, loc.line, loc.path, f"{rel} {why}"))
            continue
        sidecar, problems = _parse(raw, shown)
        diagnostics.extend(problems)
        if sidecar is not None:
            found[key] = sidecar
    return found, diagnostics


def _parse(raw: bytes, shown: str) -> tuple[Sidecar | None, list[Diagnostic]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return None, [Diagnostic(shown, None, "", f"not UTF-8 (byte offset {err.start})")]
    parsed = parse_yaml(text, shown)
    problems = list(parsed.diagnostics)
    if parsed.data is None:
        return (None if problems else Sidecar(shown, ())), problems
    problems.extend(check_metadata(parsed.data, parsed.lines, shown))

    def problem(parts: PathParts, message: str) -> None:
        path = format_path(parts)
        problems.append(Diagnostic(shown, parsed.lines.of(parts), path, message))

    metadata = metadata_of(parsed.data, (), problem, report_variables=True)
    return (None if problems else Sidecar(shown, metadata)), problems
