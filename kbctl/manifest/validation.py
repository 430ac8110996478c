"""`kbctl validate`'s core: load every manifest, resolve every environment, report.

Owns the validation policy: without an environment, every environment of every manifest is
resolved and unset `${VAR}`s are warnings (a developer rarely has the staging and production
variables set); with one, only that environment is resolved and unset variables are errors, and
manifests that do not declare it are skipped with a note (unless none declares it).
Offline: nothing here touches the network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kbctl.errors import Diagnostic
from kbctl.manifest.load import load_all, manifest_error
from kbctl.manifest.resolve import resolve


@dataclass(frozen=True, slots=True)
class ManifestSummary:
    """One manifest's outcome: documents per environment that resolved."""

    path: Path
    project: str
    documents: tuple[tuple[str, int], ...]  # (environment, document count), in file order


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Everything `kbctl validate` found."""

    manifests: tuple[ManifestSummary, ...]
    errors: tuple[Diagnostic, ...]
    warnings: tuple[Diagnostic, ...]
    notes: tuple[str, ...] = ()  # manifests skipped because they lack the environment

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise ManifestError listing every error (and the warnings) if there is any."""
        if self.errors:
            raise manifest_error((*self.errors, *self.warnings))

    def summary(self) -> str:
        """One line, e.g. `1 manifest valid: example.yaml (local 12, staging 12 documents)`."""
        names = [m.path.name for m in self.manifests]
        parts: list[str] = []
        for manifest in self.manifests:
            name = manifest.path.name if names.count(manifest.path.name) == 1 else manifest.path
            counts = ", ".join(f"{env} {count}" for env, count in manifest.documents)
            parts.append(f"{name} ({counts} documents)" if counts else f"{name}")
        count = len(self.manifests)
        state = "valid" if self.ok else "invalid"
        return f"{count} manifest{'s' if count != 1 else ''} {state}: {'; '.join(parts)}"


def validate(
    paths: Sequence[Path], environ: Mapping[str, str], environment: str | None = None
) -> ValidationReport:
    """Check manifests offline; every problem ends up in the report, none is raised.

    Args:
        paths: the manifest files (as the user gave them: diagnostics show them that way).
        environ: where `${VAR}` values come from.
        environment: check only this environment, strictly; None checks all, leniently.
    """
    manifests, loaded = load_all(paths, environ)
    found: list[Diagnostic] = list(loaded)
    summaries: list[ManifestSummary] = []
    notes: list[str] = []
    declared = [m for m in manifests if environment is None or environment in m.environments]
    for manifest in manifests:
        names = (environment,) if environment is not None else manifest.environments
        if environment is not None and declared and manifest not in declared:
            names = ()  # another manifest has it: this one is for other environments
            notes.append(f"{manifest.decl.file} does not declare environment '{environment}'")
        counts: list[tuple[str, int]] = []
        for name in names:
            result = resolve(manifest.decl, name, environ, strict=environment is not None)
            found.extend(result.errors)
            found.extend(result.warnings)
            if not result.errors:
                counts.append((name, len(result.documents)))
        summaries.append(ManifestSummary(manifest.path, manifest.project, tuple(counts)))
    order = {str(p): i for i, p in enumerate(paths)}
    unique = sorted(
        dict.fromkeys(found), key=lambda d: (order.get(d.file, len(order)), d.line or 0)
    )
    return ValidationReport(
        manifests=tuple(summaries),
        errors=tuple(d for d in unique if d.severity == "error"),
        warnings=tuple(d for d in unique if d.severity != "error"),
        notes=tuple(notes),
    )
