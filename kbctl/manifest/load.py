"""Manifest files → `Manifest` objects: read, parse, schema-check, build, read documents.

Owns: which files are manifests by default, the loading pipeline of each file, the checks that
span files (one project per manifest), and `Manifest`, the loaded file that resolves into a
`Target` per environment. Problems of every file are collected and raised together.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from kbctl.errors import Diagnostic, ManifestError
from kbctl.manifest.build import build
from kbctl.manifest.containment import RefusedPath, read_contained, repository_root
from kbctl.manifest.decl import Loaded, Loc, ManifestDecl, Sidecar, SourceKind
from kbctl.manifest.interpolate import literal
from kbctl.manifest.resolve import resolve
from kbctl.manifest.schema import check_schema
from kbctl.manifest.sidecars import read_sidecars
from kbctl.manifest.sources import expand
from kbctl.manifest.yamlpos import parse_yaml
from kbctl.model import ProviderKind, Target

MANIFEST_DIR = "manifests"
MANIFEST_SUFFIXES = (".yaml", ".yml")
HINT = "the manifest format is described in docs/manifest.md"


def default_manifest_paths(cwd: Path) -> list[Path]:
    """`manifests/*.yaml` and `manifests/*.yml` under `cwd`, sorted by name."""
    folder = cwd / MANIFEST_DIR
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file()]
    return sorted(found, key=lambda p: p.name)


def manifest_paths(given: Sequence[Path], cwd: Path) -> list[Path]:
    """The files a command works on: those given, else the defaults; raises when there are none."""
    paths = list(given) if given else default_manifest_paths(cwd)
    if not paths:
        raise ManifestError(
            f"no manifests found: {(cwd / MANIFEST_DIR).as_posix()}/*.yaml matches nothing",
            hint="create manifests/<name>.yaml, or pass one with -f FILE",
        )
    return paths


@dataclass(frozen=True, slots=True)
class Manifest:
    """One loaded, valid manifest file; `resolve` turns it into a target per environment."""

    path: Path
    project: str
    environments: tuple[str, ...]
    decl: ManifestDecl = field(repr=False, compare=False)

    def resolve(self, environment: str, environ: Mapping[str, str]) -> Target:
        """The desired state of `environment`: overlays merged, `${VAR}` read, documents hashed.

        Raises ManifestError listing every problem (unset variables, unknown environment, ...).
        """
        result = resolve(self.decl, environment, environ, strict=True)
        if result.target is not None:
            return result.target
        if environment not in self.environments:
            raise ManifestError(
                f"unknown environment '{environment}' in {self.decl.file}",
                result.errors,
                hint="pass one of the environments the manifest declares with -e",
            )
        raise ManifestError(
            f"{self.decl.file}: environment '{environment}' cannot be resolved",
            result.errors,
            hint=unset_hint(result.errors) or HINT,
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """The targets of one environment across manifests, and notes on the manifests skipped."""

    targets: tuple[Target, ...]
    notes: tuple[str, ...] = ()


def select_targets(
    manifests: Sequence[Manifest], environment: str, environ: Mapping[str, str]
) -> Selection:
    """Resolve `environment` in every manifest that declares it; skip (with a note) the others.

    A repository may hold manifests for different agents and environments, so a manifest without
    the environment is not an error; no manifest with it is. Raises ManifestError.
    """
    chosen = [m for m in manifests if environment in m.environments]
    if not chosen:
        if len(manifests) == 1:
            manifests[0].resolve(environment, environ)  # raises, naming the known environments
        known = sorted({e for m in manifests for e in m.environments})
        detail = "\n".join(
            f"{m.decl.file}: {', '.join(m.environments) or 'none'}" for m in manifests
        )
        close = difflib.get_close_matches(environment, known, n=1)
        guess = f"; did you mean '{close[0]}'?" if close else ""
        raise ManifestError(
            f"no manifest declares environment '{environment}'{guess}",
            detail=f"Environments per manifest:\n{detail}",
            hint="pass one of the environments the manifests declare with -e",
        )
    notes = tuple(
        f"{m.decl.file} does not declare environment '{environment}'; skipped"
        for m in manifests
        if m not in chosen
    )
    if len(chosen) == 1:
        return Selection((chosen[0].resolve(environment, environ),), notes)
    targets: list[Target] = []
    errors: list[Diagnostic] = []
    for manifest in chosen:  # every manifest's problems at once, not the first one's
        result = resolve(manifest.decl, environment, environ, strict=True)
        errors.extend(result.errors)
        if result.target is not None:
            targets.append(result.target)
    if errors:
        raise manifest_error(errors)
    return Selection(tuple(targets), notes)


def load_manifests(paths: Sequence[Path], environ: Mapping[str, str]) -> tuple[Manifest, ...]:
    """Load every file; raise ManifestError listing every problem of every file."""
    manifests, diagnostics = load_all(paths, environ)
    errors = tuple(d for d in diagnostics if d.severity == "error")
    if errors:
        raise manifest_error(errors)
    return manifests


def load_all(
    paths: Sequence[Path], environ: Mapping[str, str]
) -> tuple[tuple[Manifest, ...], tuple[Diagnostic, ...]]:
    """Every file that could be parsed, and every problem found (no exception)."""
    if not paths:
        raise ManifestError("no manifest files given", hint="pass one with -f FILE")
    manifests: list[Manifest] = []
    diagnostics: list[Diagnostic] = []
    seen_files: set[Path] = set()
    projects: dict[str, Manifest] = {}
    for path in paths:
        identity = path.resolve()
        if identity in seen_files:
            continue
        seen_files.add(identity)
        manifest, found = _load_one(path, environ)
        diagnostics.extend(found)
        if manifest is None:
            continue
        manifests.append(manifest)
        other = projects.get(manifest.project)
        if manifest.project and other is not None:
            diagnostics.append(
                Diagnostic(
                    manifest.decl.file,
                    manifest.decl.project_line,
                    "project",
                    f"project '{manifest.project}' is also declared by {other.decl.file}; "
                    "each manifest needs its own project, or their documents collide",
                )
            )
        elif manifest.project:
            projects[manifest.project] = manifest
    return tuple(manifests), tuple(diagnostics)


def _load_one(path: Path, environ: Mapping[str, str]) -> tuple[Manifest | None, list[Diagnostic]]:
    file = str(path)
    try:
        # Like a document: a manifest symlinked out of its repository (to an `.env`, to
        # `.git/config`) is refused unread, or its parse errors would quote the secret.
        raw = read_contained(repository_root(path.parent), os.fspath(path))
    except RefusedPath as refused:
        why = f"{refused}: manifests must be regular files inside the repository"
        return None, [Diagnostic(file, None, "", why)]
    except FileNotFoundError:
        return None, [Diagnostic(file, None, "", "manifest file not found")]
    except IsADirectoryError:
        return None, [Diagnostic(file, None, "", "is a directory, not a manifest file")]
    except OSError as err:
        return None, [Diagnostic(file, None, "", f"cannot read: {err.strerror or err}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return None, [Diagnostic(file, None, "", f"not UTF-8 (byte offset {err.start})")]
    parsed = parse_yaml(text, file)
    diagnostics = list(parsed.diagnostics)
    if parsed.data is None:
        if not diagnostics:
            diagnostics.append(Diagnostic(file, None, "", "the manifest is empty"))
        return None, diagnostics
    diagnostics.extend(check_schema(parsed.data, parsed.lines, file))
    decl, found = build(parsed.data, parsed.lines, file, path.parent)
    diagnostics.extend(found)

    def report(loc: Loc, message: str) -> None:
        diagnostics.append(Diagnostic(file, loc.line, loc.path, message))

    expansions: dict[str, tuple[Loaded, ...]] = {}
    all_docs = (*decl.documents, *(d for env in decl.environments for d in env.documents))
    for doc in all_docs:
        if doc.kind not in (SourceKind.GLOB, SourceKind.FILE):
            continue
        source = _literal(doc.source.value)
        if source is None:  # a `${…}` where none is allowed: reported by `build`
            continue
        exclude = tuple((p, x.loc) for x in doc.exclude if (p := _literal(x.value)) is not None)
        expansions[doc.loc.path] = expand(doc.kind, source, decl.where, doc.loc, report, exclude)
    sidecars: dict[str, Sidecar] = {}
    if any(env.provider is ProviderKind.OPENAI for env in decl.environments):
        by_path = {d.loc.path: d for d in all_docs}
        files = (
            (loaded.key, by_path[path].loc)
            for path, loads in expansions.items()
            for loaded in loads
        )
        sidecars, found = read_sidecars(files, decl.where, file)
        diagnostics.extend(found)
    diagnostics.sort(key=lambda d: (d.file != file, d.file, d.line or 0, d.path))
    decl = replace(decl, expansions=expansions, sidecars=sidecars, complete=not diagnostics)
    manifest = Manifest(path, decl.project, tuple(e.name for e in decl.environments), decl)
    return manifest, diagnostics


def _literal(value: str) -> str | None:
    """The value taken literally, or None when it holds a `${…}` (an error reported already)."""
    taken = literal(value)
    return None if taken.references or taken.malformed else taken.value


def manifest_error(diagnostics: Sequence[Diagnostic]) -> ManifestError:
    """One ManifestError for these diagnostics (errors first, then warnings)."""
    errors = [d for d in diagnostics if d.severity == "error"]
    warnings = [d for d in diagnostics if d.severity != "error"]
    files = list(dict.fromkeys(d.file for d in errors))
    count = len(errors)
    summary = f"{count} problem{'s' if count != 1 else ''} in {', '.join(files)}"
    lines = [str(d) for d in errors] + [f"warning: {d}" for d in warnings]
    return ManifestError(
        summary, (*errors, *warnings), detail="\n".join(lines), hint=unset_hint(errors) or HINT
    )


def unset_hint(diagnostics: Sequence[Diagnostic]) -> str | None:
    """A hint for unset variables, when some are among the problems."""
    names = [
        d.message.split()[2]
        for d in diagnostics
        if d.message.startswith("environment variable ") and d.message.endswith(" is not set")
    ]
    if not names:
        return None
    unique = list(dict.fromkeys(names))
    return f"set {', '.join(unique)} in the environment (for example: export {unique[0]}=...)"
