"""The files `kbctl import` writes for an OpenAI vector store: the manifest (by hand, with
comments, a stable order) and each document's `<file>.metadata.yaml` sidecar.

Scalars are written so that YAML reads back the same value: plain words as they are, other
strings as JSON (double-quoted; `${` escaped as `$${`, characters YAML treats as line breaks or
controls as `\\u` escapes), floats always with a decimal point (YAML 1.1 reads `1e+20` as a
string). Pure: values in, strings out; the importer loads the result back with kbctl's own
loader before adopting.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from kbctl.chunking import Metadata, MetadataValue
from kbctl.manifest import OPENAI_API_KEY_ENV, OPENAI_BASE_URL

#: Strings written without quotes (YAML reads them back as these strings, bar `_YAML_WORDS`).
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_YAML_WORDS = frozenset(("yes", "no", "true", "false", "on", "off", "null", "y", "n", "nan", "inf"))
#: Unicode categories escaped in written strings (controls, formats, line/paragraph separators).
_ESCAPED = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


@dataclass(frozen=True, slots=True)
class StoreEntry:
    """One store file in the manifest: a `file:` entry (`path` set), or a comment saying why
    it stays unmanaged (`path` None)."""

    file_id: str
    filename: str
    path: str | None
    chunking: tuple[int, int] | None = None  # static sizes; None: auto
    comment: str = ""


def scalar(value: MetadataValue) -> str:
    """A YAML scalar that loads back as exactly `value`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a value an attribute can hold")
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, _, exponent = text.partition("e")
            text = f"{mantissa}.0e{exponent}"
        return text if any(c in text for c in ".e") else text + ".0"
    return _string(value)


def _string(text: str, *, escape: bool = True) -> str:
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    quoted = json.dumps(text.replace("${", "$${") if escape else text, ensure_ascii=False)
    return "".join(
        f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF and unicodedata.category(c) in _ESCAPED else c
        for c in quoted
    )


def sidecar_text(metadata: Metadata, filename: str, file_id: str) -> str:
    """A sidecar holding a document's metadata (the store file's own attributes)."""
    lines = [f"# Attributes of {_oneline(filename)} ({file_id}) in the vector store."]
    lines += [f"{_string(key, escape=False)}: {scalar(value)}" for key, value in metadata]
    return "\n".join(lines) + "\n"


def store_manifest_text(
    *,
    project: str,
    environment: str,
    store_id: str,
    store_name: str,
    by_name: bool,
    entries: Sequence[StoreEntry],
    base_url: str | None,
    api_key_env: str | None,
) -> str:
    """The manifest YAML for an imported vector store."""
    lines = [
        f"# Imported by kbctl from vector store {store_id} ({_oneline(store_name)!r}).",
        f"# Review and commit it; `kbctl plan -e {environment} -f <this file>` should show no "
        "changes.",
        "# Each document's attributes are in the <file>.metadata.yaml beside it.",
        "version: 1",
        f"project: {_string(project)}",
        "provider: openai",
    ]
    managed = [e for e in entries if e.path is not None]
    if managed:
        lines.append("documents:")
    for entry in managed:
        assert entry.path is not None
        lines.append(f"  - file: {_string(entry.path)}")
        if entry.chunking is not None:
            size, overlap = entry.chunking
            lines.append(
                f"    chunking: {{strategy: static, max_chunk_size_tokens: {size}, "
                f"chunk_overlap_tokens: {overlap}}}"
            )
    for entry in entries:
        if entry.path is None:
            lines.append(
                f"# not managed (kept as is): {_oneline(entry.filename)} ({entry.file_id}): "
                f"{_oneline(entry.comment)}"
            )
    lines.append("environments:")
    lines.append(f"  {environment}:")
    if by_name:
        lines.append(f"    vector_store: {{name: {_string(store_name)}}}")
    else:
        lines.append(f"    vector_store_id: {_string(store_id)}")
    if base_url and base_url != OPENAI_BASE_URL:
        lines.append(f"    base_url: {_string(base_url)}")
    if api_key_env and api_key_env != OPENAI_API_KEY_ENV:
        lines.append(f"    api_key_env: {_string(api_key_env)}")
    return "\n".join(lines) + "\n"


def _oneline(text: str) -> str:
    return " ".join(text.split())
