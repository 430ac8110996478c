"""The manifest `kbctl import` writes: by hand, with comments, a stable order, no dumper surprises.

RAG settings are written only when the manifest schema allows their value (its enums and
ranges, read from the schema itself). Pure: strings in, a string out.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import TYPE_CHECKING

from kbctl.manifest import DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL
from kbctl.manifest.schema import rag_setting_allowed
from kbctl.model import DocType, LiveAgent, RagSettings

if TYPE_CHECKING:
    from kbctl.importer.adopt import ImportedDocument


def manifest_text(
    *,
    project: str,
    environment: str,
    agent: LiveAgent,
    documents: list[ImportedDocument],
    base_url: str | None,
    api_key_env: str | None,
) -> str:
    """The manifest YAML for an imported agent."""
    lines = [
        f"# Imported by kbctl from agent {agent.id} ({_oneline(agent.name)!r}).",
        f"# Review and commit it; `kbctl plan -e {environment} -f <this file>` should show no "
        "changes.",
        "version: 1",
        f"project: {_q(project)}",
    ]
    rag = _rag_lines(agent.rag)
    if rag:
        lines.append("rag:")
        lines += rag
    managed = [d for d in documents if d.key is not None]
    if managed:
        lines.append("documents:")
    for doc in managed:
        if doc.doc_type is DocType.FILE:
            lines.append(
                f"  # {_oneline(doc.name)}: an uploaded file that cannot be downloaded; "
                "this is its extracted text."
            )
        if doc.url is not None:
            lines.append(f"  - url: {_q(doc.url)}")
        else:
            assert doc.path is not None
            lines.append(f"  - file: {_q(doc.path)}")
        lines.append(f"    usage_mode: {doc.usage_mode.value}")
    unmanaged = [d for d in documents if d.key is None]
    for doc in unmanaged:
        lines.append(f"# not managed (kept as is): {_oneline(doc.name)} ({doc.id}): {doc.note}")
    lines.append("environments:")
    lines.append(f"  {environment}:")
    lines.append(f"    agent_id: {_q(agent.id)}")
    if base_url and base_url != DEFAULT_BASE_URL:
        lines.append(f"    base_url: {_q(base_url)}")
    if api_key_env and api_key_env != DEFAULT_API_KEY_ENV:
        lines.append(f"    api_key_env: {_q(api_key_env)}")
    return "\n".join(lines) + "\n"


def _rag_lines(rag: RagSettings) -> list[str]:
    """The agent's RAG settings that a manifest can declare (the schema's ranges)."""
    out: list[str] = []
    for f in fields(RagSettings):
        value = getattr(rag, f.name)
        if value is None:
            continue
        if not rag_setting_allowed(f.name, value):
            continue  # the agent has a value no manifest may declare: left unmanaged
        out.append(f"  {f.name}: {json.dumps(value)}")
    return out


def _q(value: str) -> str:
    """A YAML scalar that stays a string (JSON strings are valid YAML); `${` is escaped."""
    return json.dumps(value.replace("${", "$${"), ensure_ascii=False)


def _oneline(text: str) -> str:
    return " ".join(text.split())
