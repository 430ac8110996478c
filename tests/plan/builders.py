"""Build model objects from the small YAML shapes the case files use.

Short hashes: `hash: a1` stands for the 64-character sha256 `a1a1…a1`, so case files can name
contents briefly and the names' 12-character hashes stay readable (`a1a1a1a1a1a1`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kbctl.identity import document_name, parse_marker, shared_document_name
from kbctl.model import (
    DocType,
    DocumentSpec,
    IndexHealth,
    IndexStatus,
    KbEntry,
    LiveAgent,
    LiveDocument,
    LiveState,
    Policy,
    RagQuota,
    RagSettings,
    SmallDocumentPolicy,
    SourceRef,
    Target,
    UsageMode,
)
from kbctl.sharing import SharedUse

PROJECT = "birby"
ENVIRONMENT = "staging"
AGENT_ID = "agent_1"
MANIFEST = "manifests/kb.yaml"
DEFAULT_SIZE = 1000


def full_hash(short: str) -> str:
    """`a1` → `a1a1…` (64 hex characters)."""
    short = str(short)
    if not re.fullmatch(r"[0-9a-f]+", short):
        raise ValueError(f"hash must be hex: {short!r}")
    return (short * 64)[:64]


def spec(
    key: str,
    hash: str,
    *,
    size: int = DEFAULT_SIZE,
    type: str = "text",
    usage: str = "auto",
    line: int | None = None,
    manifest: str = MANIFEST,
) -> DocumentSpec:
    """A declared document; `line` places its entry in the manifest (the loader's `origin`)."""
    doc_type = DocType(type)
    content = key.encode() if doc_type is DocType.URL else b"x" * size
    return DocumentSpec(
        key=key,
        doc_type=doc_type,
        usage_mode=UsageMode(usage),
        content=content,
        content_hash=full_hash(hash),
        url=key if doc_type is DocType.URL else None,
        origin=None if line is None else SourceRef(manifest, line, "documents"),
    )


def build_target(data: dict[str, Any]) -> Target:
    policy = data.get("policy", {})
    manifest = data.get("manifest", MANIFEST)
    return Target(
        manifest=manifest,
        project=data.get("project", PROJECT),
        environment=data.get("environment", ENVIRONMENT),
        agent_id=data.get("agent_id", AGENT_ID),
        base_url="emulator://.kbctl/emulator",
        api_key_env="ELEVENLABS_API_KEY",
        protect=data.get("protect", False),
        rag=RagSettings(**data.get("rag", {})),
        policy=Policy(
            index_timeout=float(policy.get("index_timeout", 180.0)),
            small_documents=SmallDocumentPolicy(policy.get("small_documents", "prompt")),
            max_deletes=policy.get("max_deletes", 10),
        ),
        documents=tuple(spec(**d, manifest=manifest) for d in data.get("documents", ())),
    )


def live_document(data: dict[str, Any]) -> LiveDocument:
    """A live document: `name:` as given, or kbctl's name from key/hash/project/environment."""
    if "name" in data:
        name = data["name"]
    elif "environment" in data and data["environment"] is None:  # a shared document
        name = shared_document_name(
            data["key"], data.get("project", PROJECT), full_hash(data["hash"])
        )
    else:
        name = document_name(
            data["key"],
            data.get("project", PROJECT),
            data.get("environment", ENVIRONMENT),
            full_hash(data["hash"]),
        )
    return LiveDocument(
        id=data["id"],
        name=name,
        doc_type=DocType(data.get("type", "text")),
        size_bytes=data.get("size", DEFAULT_SIZE),
        marker=parse_marker(name),
    )


def build_live(data: dict[str, Any]) -> LiveState:
    attached = [(live_document(d), d) for d in data.get("knowledge_base", ())]
    entries = tuple(
        KbEntry(
            doc.id, d.get("entry_name", doc.name), doc.doc_type, UsageMode(d.get("usage", "auto"))
        )
        for doc, d in attached
    )
    docs = [doc for doc, d in attached if d.get("listed", True)]
    docs += [live_document(d) for d in data.get("documents", ())]
    quota = data.get("quota")
    # `index: {model: M, doc_a: succeeded, …}`: index health as `kbctl.observe` reads it.
    index = dict(data.get("index", {}))
    index_model = index.pop("model", None)
    indexes = tuple(
        IndexHealth(doc_id, IndexStatus.parse(status), status)
        for doc_id, status in sorted(index.items())
    )
    return LiveState(
        agent=LiveAgent(
            id=data.get("agent_id", AGENT_ID),
            name="Agent",
            version_id=None,
            branch_id=None,
            knowledge_base=entries,
            rag=RagSettings(**data.get("rag", {})),
        ),
        documents=tuple(sorted({d.id: d for d in docs}.values(), key=lambda d: d.id)),
        quota=RagQuota(quota["used"], quota["max"]) if quota else None,
        index_model=index_model,
        indexes=indexes,
        edited=tuple(sorted(data.get("edited", ()))),
        shared=_shared(data["shared"]) if "shared" in data else None,
    )


def _shared(data: dict[str, Any] | None) -> tuple[SharedUse, ...]:
    """`shared: {doc_id: [users…] | unknown}`: who else uses managed documents (observe)."""
    out = []
    for doc_id, users in sorted((data or {}).items()):
        if users == "unknown":
            out.append(SharedUse(doc_id, unknown="the read failed"))
        else:
            out.append(SharedUse(doc_id, tuple(users)))
    return tuple(out)


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    target: Target
    live: LiveState
    expect: dict[str, Any]


def load_case(path: Path) -> Case:
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    description = " ".join(
        line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")
    )
    return Case(
        name=path.stem,
        description=description,
        target=build_target(data.get("target", {})),
        live=build_live(data.get("live", {})),
        expect=data.get("expect", {}),
    )
