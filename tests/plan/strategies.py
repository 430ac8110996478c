"""Hypothesis strategies for planner properties: a target and a live state that share a few
keys and contents, so renames, replaces, orphans, duplicates and foreign documents all occur.
"""

from __future__ import annotations

from hypothesis import strategies as st

from kbctl.identity import content_hash, document_name, parse_marker
from kbctl.model import (
    DocType,
    DocumentSpec,
    KbEntry,
    LiveAgent,
    LiveDocument,
    LiveState,
    Policy,
    RagQuota,
    RagSettings,
    SmallDocumentPolicy,
    Target,
    UsageMode,
)

PROJECT = "birby"
ENVIRONMENT = "staging"
KEYS = ("a.md", "b.md", "c", "docs/d.md", "e.pdf")
OLD_KEYS = (*KEYS, "old.md", "gone.txt")
TEXTS = (b"x" * 20, b"y" * 600, b"z" * 2500, b"w" * 499)
MODELS = ("e5_mistral_7b_instruct", "multilingual_e5_large_instruct")

doc_types = st.sampled_from((DocType.TEXT, DocType.TEXT, DocType.FILE, DocType.URL))
usage_modes = st.sampled_from(tuple(UsageMode))


@st.composite
def contents(draw: st.DrawFn, doc_type: DocType) -> bytes:
    if doc_type is DocType.URL:
        return ("https://example.com/" + draw(st.sampled_from("ab"))).encode()
    return draw(st.sampled_from(TEXTS))


@st.composite
def rag_settings(draw: st.DrawFn) -> RagSettings:
    return RagSettings(
        enabled=draw(st.none() | st.booleans()),
        embedding_model=draw(st.none() | st.sampled_from(MODELS)),
        max_vector_distance=draw(st.none() | st.sampled_from((0.5, 0.6))),
        max_documents_length=draw(st.none() | st.sampled_from((1000, 50000))),
        max_retrieved_rag_chunks_count=draw(st.none() | st.sampled_from((10, 20))),
        num_candidates=draw(st.none() | st.sampled_from((50, 100))),
    )


@st.composite
def specs(draw: st.DrawFn) -> tuple[DocumentSpec, ...]:
    out = []
    for key in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS))):
        doc_type = draw(doc_types)
        content = draw(contents(doc_type))
        out.append(
            DocumentSpec(
                key=key,
                doc_type=doc_type,
                usage_mode=draw(usage_modes),
                content=content,
                content_hash=content_hash(doc_type, content),
                url=content.decode() if doc_type is DocType.URL else None,
            )
        )
    return tuple(out)


@st.composite
def live_documents(draw: st.DrawFn, wanted: tuple[DocumentSpec, ...]) -> list[LiveDocument]:
    """Live documents; "copy" ones hold a wanted key and content, so noops and duplicates occur."""
    docs = []
    kinds = ("managed",) * 3 + ("copy",) * 3 + ("other-env", "other-project", "plain")
    for i in range(draw(st.integers(0, 9))):
        kind = draw(st.sampled_from(kinds))
        if kind == "copy" and wanted:
            spec = draw(st.sampled_from(wanted))
            key, doc_type, content = spec.key, spec.doc_type, spec.content
        else:
            doc_type = draw(doc_types)
            content = draw(contents(doc_type))
            key = draw(st.sampled_from(OLD_KEYS))
        digest = content_hash(doc_type, content)
        if kind == "plain":
            name = draw(st.sampled_from(("Handbook", "FAQ", f"{key} (manual)")))
        else:
            project = "other" if kind == "other-project" else PROJECT
            environment = "production" if kind == "other-env" else ENVIRONMENT
            name = document_name(key, project, environment, digest)
        size = 0 if doc_type is DocType.URL else len(content)
        docs.append(LiveDocument(f"doc{i:02d}", name, doc_type, size, parse_marker(name)))
    return docs


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Target, LiveState]:
    """A target and the live state it is planned against."""
    target = Target(
        manifest="manifests/kb.yaml",
        project=PROJECT,
        environment=ENVIRONMENT,
        agent_id="agent_1",
        base_url="emulator://.kbctl/emulator",
        api_key_env="ELEVENLABS_API_KEY",
        protect=draw(st.booleans()),
        rag=draw(rag_settings()),
        policy=Policy(
            small_documents=draw(st.sampled_from(tuple(SmallDocumentPolicy))),
            max_deletes=draw(st.integers(0, 4)),
        ),
        documents=draw(specs()),
    )
    docs = draw(live_documents(target.documents))
    order = draw(st.permutations(docs))
    attached = order[: draw(st.integers(0, len(order)))]
    entries = tuple(
        KbEntry(
            doc.id,
            draw(st.sampled_from((doc.name, doc.name, "stale title"))),
            doc.doc_type,
            draw(usage_modes),
        )
        for doc in attached
    )
    if entries and draw(st.integers(0, 9)) == 0:  # an id attached twice (appending, not replacing)
        entries += (draw(st.sampled_from(entries)),)
    quota = draw(
        st.none() | st.builds(RagQuota, st.integers(0, 5000), st.sampled_from((4000, 10**6)))
    )
    live = LiveState(
        agent=LiveAgent("agent_1", "Agent", None, None, entries, draw(rag_settings())),
        documents=tuple(sorted(docs, key=lambda d: d.id)),
        quota=quota,
    )
    return target, live
