"""Manifest v1: the files that declare an agent's knowledge base, and their validation.

The public surface other packages use. Pipeline: `yamlpos` (YAML with lines) → `schema`
(JSON Schema, package data) → `build` (typed declarations) → `sources` (files read and hashed)
→ `resolve` (one environment → `kbctl.model.Target`). `validation` is `kbctl validate`'s core.
Nothing here reads `os.environ`, prints or touches the network.
"""

from __future__ import annotations

from kbctl.manifest.load import (
    Manifest,
    Selection,
    default_manifest_paths,
    load_manifests,
    manifest_paths,
    select_targets,
)
from kbctl.manifest.resolve import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_BASE_URL,
    OPENAI_API_KEY_ENV,
    OPENAI_BASE_URL,
)
from kbctl.manifest.schema import schema_text
from kbctl.manifest.sources import SUPPORTED_SUFFIXES
from kbctl.manifest.validation import ManifestSummary, ValidationReport, validate

__all__ = [
    "DEFAULT_API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "OPENAI_API_KEY_ENV",
    "OPENAI_BASE_URL",
    "SUPPORTED_SUFFIXES",
    "Manifest",
    "ManifestSummary",
    "Selection",
    "ValidationReport",
    "default_manifest_paths",
    "load_manifests",
    "manifest_paths",
    "schema_text",
    "select_targets",
    "validate",
]
