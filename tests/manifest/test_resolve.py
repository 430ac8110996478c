"""Resolving a manifest for one environment: overlays, interpolation, keys, content and hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbctl.errors import ManifestError
from kbctl.identity import canonical_text, content_hash
from kbctl.manifest import Manifest, load_manifests
from kbctl.model import DocType, SmallDocumentPolicy, UsageMode
from tests.manifest.conftest import MINIMAL, Project


def load_one(project: Project, text: str, environ: dict[str, str] | None = None) -> Manifest:
    name = project.manifest(text)
    (manifest,) = load_manifests([Path(name)], environ or {})
    return manifest


def test_overlays_deep_merge_rag_and_policy_and_append_lists(project: Project) -> None:
    project.doc("kb/base.md")
    project.doc("kb/staging-only.md")
    manifest = load_one(
        project,
        """\
        version: 1
        project: demo
        rag:
          enabled: true
          embedding_model: multilingual_e5_large_instruct
          max_retrieved_rag_chunks_count: 20
        policy:
          small_documents: fail
        documents:
          - file: kb/base.md
        checks:
          - {query: "base?", expect: kb/base.md}
        environments:
          local:
            agent_id: agent_local
          staging:
            agent_id: agent_staging
            rag:
              max_retrieved_rag_chunks_count: 5
              max_vector_distance: 0.4
            policy:
              max_deletes: 0
            documents:
              - file: kb/staging-only.md
                usage_mode: prompt
            checks:
              - {query: "staging?", expect: [kb/staging-only.md], top_k: 2}
        """,
    )
    local = manifest.resolve("local", {})
    staging = manifest.resolve("staging", {})

    assert local.rag.max_retrieved_rag_chunks_count == 20
    assert local.rag.max_vector_distance is None  # not managed
    assert local.policy.max_deletes == 10  # default
    assert [d.key for d in local.documents] == ["kb/base.md"]

    assert staging.rag.enabled is True  # inherited
    assert staging.rag.embedding_model == "multilingual_e5_large_instruct"  # inherited
    assert staging.rag.max_retrieved_rag_chunks_count == 5  # overridden
    assert staging.rag.max_vector_distance == 0.4  # added
    assert staging.rag.num_candidates is None
    assert staging.policy.small_documents is SmallDocumentPolicy.FAIL  # inherited
    assert staging.policy.max_deletes == 0  # overridden
    assert staging.policy.index_timeout == 180.0  # default
    assert [d.key for d in staging.documents] == ["kb/base.md", "kb/staging-only.md"]
    assert staging.documents[1].usage_mode is UsageMode.PROMPT
    assert [c.query for c in staging.checks] == ["base?", "staging?"]
    assert staging.checks[1].expect == ("kb/staging-only.md",)
    assert staging.checks[1].top_k == 2
    assert staging.checks[0].top_k == 3


def test_environment_defaults(project: Project) -> None:
    target = load_one(project, MINIMAL).resolve("local", {})
    assert target.base_url == "https://api.elevenlabs.io"
    assert target.api_key_env == "ELEVENLABS_API_KEY"
    assert target.protect is False
    assert target.project == "demo"
    assert target.environment == "local"
    assert target.manifest == "m.yaml"
    assert target.checks_policy.min_coverage == 1.0
    assert target.checks_policy.on_failure == "abort"


def test_interpolation_and_escape(project: Project) -> None:
    manifest = load_one(
        project,
        """\
        version: 1
        project: demo
        documents:
          - key: price-birby
            text: "Price in Birby: write $${PRICE} in templates; cost $5."
          - url: https://kb.example.com/faq?q=$${x}
        environments:
          staging:
            agent_id: agent_${SUFFIX}
            base_url: https://${HOST}
            api_key_env: STAGING_KEY
        """,
    )
    environ = {"HOST": "kb.example.com", "SUFFIX": "s1"}
    target = manifest.resolve("staging", environ)
    assert target.agent_id == "agent_s1"
    assert target.base_url == "https://kb.example.com"
    assert target.api_key_env == "STAGING_KEY"
    text, url = target.documents
    assert text.key == "price-birby"
    assert text.content == b"Price in Birby: write ${PRICE} in templates; cost $5."
    assert url.key == "https://kb.example.com/faq?q=${x}"
    assert url.url == url.key
    assert url.doc_type is DocType.URL


def test_unset_variables_are_all_named(project: Project) -> None:
    manifest = load_one(
        project,
        MINIMAL + "  production:\n    agent_id: ${KB_AGENT}\n    base_url: https://${KB_HOST}\n",
    )
    manifest.resolve("local", {})
    with pytest.raises(ManifestError) as caught:
        manifest.resolve("production", {})
    messages = [str(d) for d in caught.value.diagnostics]
    assert messages == [
        "m.yaml:7 at environments.production.agent_id: environment variable KB_AGENT is not set",
        "m.yaml:8 at environments.production.base_url: environment variable KB_HOST is not set",
    ]
    assert caught.value.hint is not None
    assert "KB_AGENT, KB_HOST" in caught.value.hint


def test_a_variable_set_to_nothing_leaves_agent_id_empty(project: Project) -> None:
    manifest = load_one(project, MINIMAL + "  staging:\n    agent_id: ${KB_AGENT}\n")
    with pytest.raises(ManifestError) as caught:
        manifest.resolve("staging", {"KB_AGENT": ""})
    assert "agent_id is empty (KB_AGENT is empty)" in str(caught.value)


def test_unknown_environment(project: Project) -> None:
    manifest = load_one(project, MINIMAL)
    with pytest.raises(ManifestError) as caught:
        manifest.resolve("production", {})
    assert caught.value.summary == "unknown environment 'production' in m.yaml"
    assert "known: local" in str(caught.value)


def test_other_environments_do_not_need_their_variables(project: Project) -> None:
    manifest = load_one(project, MINIMAL + "  production:\n    agent_id: ${KB_UNSET_AGENT}\n")
    assert manifest.environments == ("local", "production")
    assert manifest.resolve("local", {}).agent_id == "agent_local"


def test_glob_keys_are_relative_to_the_manifest_and_stable_across_cwd(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    for rel in ("manifests/kb/b.md", "manifests/kb/a.md", "manifests/kb/sub/c.md"):
        project.doc(rel)
    project.doc("manifests/kb/.hidden.md")
    project.write("manifests/kb/sub/d.pdf", b"%PDF-1.4 fake")
    name = project.manifest(
        MINIMAL + "documents:\n  - glob: kb/**/*.md\n  - glob: ./kb/sub/*.pdf\n",
        "manifests/m.yaml",
    )
    expected = ["kb/a.md", "kb/b.md", "kb/sub/c.md", "kb/sub/d.pdf"]

    targets = []
    for cwd, path in (
        (project.root, Path(name)),
        (project.root / "manifests", Path("m.yaml")),
        (project.root / "manifests" / "kb", Path("../m.yaml")),
        (Path("/"), project.root / name),
    ):
        monkeypatch.chdir(cwd)
        (manifest,) = load_manifests([path], {})
        targets.append(manifest.resolve("local", {}))
    for target in targets:
        assert [d.key for d in target.documents] == expected
        assert [d.content_hash for d in target.documents] == [
            d.content_hash for d in targets[0].documents
        ]


def test_file_documents_keep_raw_bytes_and_basename(project: Project) -> None:
    raw = b"%PDF-1.7\r\n\x00\xff binary"
    project.write("kb/price-list.pdf", raw)
    manifest = load_one(
        project,
        MINIMAL
        + "documents:\n  - file: kb/price-list.pdf\n  - {file: kb/price-list.pdf, key: p}\n",
    )
    default_key, chosen_key = manifest.resolve("local", {}).documents
    assert default_key.key == "kb/price-list.pdf"
    assert chosen_key.key == "p"
    for doc in (default_key, chosen_key):
        assert doc.doc_type is DocType.FILE
        assert doc.content == raw
        assert doc.filename == "price-list.pdf"
        assert doc.content_hash == content_hash(DocType.FILE, raw)
    assert default_key.origin is not None
    assert (default_key.origin.file, default_key.origin.line) == ("m.yaml", 7)


def test_crlf_and_bom_text_files_hash_like_lf(project: Project) -> None:
    text = "# Квартал\n\nЦена: 150 000 ₽ за м².\n"
    project.write("kb/lf.md", text)
    project.write("kb/crlf.md", text.replace("\n", "\r\n"))
    project.write("kb/bom.txt", "\ufeff" + text.replace("\n", "\r\n"))
    project.write("kb/cr.markdown", text.replace("\n", "\r"))
    manifest = load_one(project, MINIMAL + "documents:\n  - glob: kb/*\n")
    docs = manifest.resolve("local", {}).documents
    assert len(docs) == 4
    assert {d.content for d in docs} == {text.encode("utf-8")}
    assert {d.content_hash for d in docs} == {content_hash(DocType.TEXT, text.encode("utf-8"))}
    assert all(d.doc_type is DocType.TEXT and d.filename is None for d in docs)


def test_inline_text_is_canonical(project: Project) -> None:
    manifest = load_one(
        project, MINIMAL + 'documents:\n  - {key: rules, text: "a\\r\\nb", usage_mode: prompt}\n'
    )
    (doc,) = manifest.resolve("local", {}).documents
    assert doc.content == canonical_text("a\nb") == b"a\nb"
    assert doc.usage_mode is UsageMode.PROMPT
    assert doc.content_hash == content_hash(DocType.TEXT, b"a\nb")


def test_same_file_under_two_keys_is_fine_but_one_key_twice_is_not(project: Project) -> None:
    project.doc("a.md")
    manifest = load_one(
        project,
        MINIMAL + "  staging:\n    agent_id: s\n"
        "    documents:\n      - {file: a.md, key: copy}\ndocuments:\n  - file: a.md\n",
    )
    assert [d.key for d in manifest.resolve("staging", {}).documents] == ["a.md", "copy"]


def test_duplicate_keys_only_count_within_one_environment(project: Project) -> None:
    manifest = load_one(
        project,
        """\
        version: 1
        project: demo
        environments:
          local:
            agent_id: a
            documents: [{key: faq, text: local}]
          staging:
            agent_id: s
            documents: [{key: faq, text: staging}]
        """,
    )
    assert manifest.resolve("local", {}).documents[0].content == b"local"
    assert manifest.resolve("staging", {}).documents[0].content == b"staging"


def test_yaml_merge_keys_and_yaml12_booleans(project: Project) -> None:
    manifest = load_one(
        project,
        """\
        version: 1
        project: demo
        documents:
          - {key: no, text: yes}
        environments:
          staging: &defaults
            agent_id: s
            protect: true
          production:
            <<: *defaults
            agent_id: p
        """,
    )
    production = manifest.resolve("production", {})
    assert (production.agent_id, production.protect) == ("p", True)
    assert production.documents[0].key == "no"
    assert production.documents[0].content == b"yes"
