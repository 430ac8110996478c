"""The manifest side of `provider: openai`: vector store, metadata (inline and sidecar),
chunking, defaults, and settings that do not apply to a provider."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl.chunking import Chunking, ChunkingStrategy
from kbctl.cli.main import cli
from kbctl.clock import FakeClock
from kbctl.commands import Session, load_targets
from kbctl.manifest import load_manifests
from kbctl.model import ProviderKind, RagSettings, Target, UsageMode
from tests.manifest.conftest import Project

BODY = "Employees get 28 days of paid leave; carry-over up to 5 days. " * 10 + "\n"

HANDBOOK = """\
version: 1
project: handbook
provider: openai
vector_store_id: vs_handbook
chunking: {strategy: static, max_chunk_size_tokens: 600, chunk_overlap_tokens: 200}
documents:
  - glob: kb/hr/*.md
    metadata: {dept: hr, version: 3, public: true}
  - file: kb/sales/prices.md
    metadata: {dept: sales, weight: 0.5}
    chunking: auto
environments:
  local:
    base_url: emulator://.kbctl/emu
  staging:
    vector_store: {name: handbook-staging}
"""


def kb(project: Project, *rels: str) -> None:
    for rel in rels:
        project.write(rel, f"# {rel}\n\n{BODY}")


def resolve(
    project: Project, text: str, environment: str, env: dict[str, str] | None = None
) -> Target:
    name = project.manifest(text)
    (manifest,) = load_manifests([Path(name)], env or {})
    return manifest.resolve(environment, env or {})


def test_an_openai_manifest_resolves_to_typed_fields(project: Project) -> None:
    kb(project, "kb/hr/leave.md", "kb/hr/sick.md", "kb/sales/prices.md")
    project.write("kb/hr/sick.md.metadata.yaml", "version: 4\ntitle: Sick leave\n")
    target = resolve(project, HANDBOOK, "local")
    assert target.provider is ProviderKind.OPENAI
    assert target.vector_store_id == "vs_handbook"
    assert target.vector_store_name is None
    assert target.agent_id == "vs_handbook"
    assert target.api_key_env == "OPENAI_API_KEY"
    assert target.base_url == "emulator://.kbctl/emu"
    assert target.rag == RagSettings()
    leave, sick, prices = target.documents
    assert leave.key == "kb/hr/leave.md"
    assert leave.metadata == (("dept", "hr"), ("public", True), ("version", 3))
    assert sick.metadata == (
        ("dept", "hr"),
        ("public", True),
        ("title", "Sick leave"),
        ("version", 4),
    )
    assert prices.metadata == (("dept", "sales"), ("weight", 0.5))
    assert leave.chunking == Chunking(ChunkingStrategy.STATIC, 600, 200)
    assert leave.chunking.effective() == (600, 200)
    assert prices.chunking == Chunking()
    assert prices.chunking.effective() == (800, 400)
    assert all(d.usage_mode is UsageMode.AUTO for d in target.documents)


def test_defaults_and_a_store_by_name(project: Project) -> None:
    kb(project, "kb/hr/leave.md", "kb/sales/prices.md")
    target = resolve(project, HANDBOOK, "staging")
    assert target.base_url == "https://api.openai.com/v1"
    assert (target.vector_store_id, target.vector_store_name) == (None, "handbook-staging")
    assert target.agent_id == "handbook-staging"


def test_metadata_changes_the_spec_but_not_the_content_hash(project: Project) -> None:
    kb(project, "kb/hr/leave.md", "kb/sales/prices.md")
    before = resolve(project, HANDBOOK, "local").documents[0]
    after = resolve(project, HANDBOOK.replace("version: 3", "version: 5"), "local").documents[0]
    assert before.content_hash == after.content_hash
    assert before != after
    assert dict(after.metadata)["version"] == 5


def test_provider_per_environment_and_variables_in_store_fields(project: Project) -> None:
    kb(project, "kb/a.md")
    text = """\
    version: 1
    project: mixed
    documents:
      - file: kb/a.md
        usage_mode: prompt
    environments:
      voice:
        agent_id: agent_voice
      search:
        provider: openai
        vector_store_id: vs_${STORE_SUFFIX}
        api_key_env: SEARCH_KEY
    """
    env = {"STORE_SUFFIX": "abc"}
    voice = resolve(project, text, "voice", env)
    search = resolve(project, text, "search", env)
    assert voice.provider is ProviderKind.ELEVENLABS
    assert voice.documents[0].usage_mode is UsageMode.PROMPT
    assert voice.documents[0].metadata == () and voice.documents[0].chunking is None
    assert search.provider is ProviderKind.OPENAI
    assert search.vector_store_id == "vs_abc"
    assert search.api_key_env == "SEARCH_KEY"
    assert search.documents[0].chunking == Chunking()


def test_the_openai_key_is_never_interpolated_into_the_store(project: Project) -> None:
    name = project.manifest(
        "version: 1\nproject: p\nprovider: openai\nenvironments:\n"
        "  local:\n    vector_store: {name: '${OPENAI_API_KEY}'}\n"
    )
    result = project.validate("-f", name, env={"OPENAI_API_KEY": "sk-proj-abcdefgh12345"})
    assert result.exit_code == 1
    assert "m.yaml:6 at environments.local.vector_store.name" in result.output
    assert "OPENAI_API_KEY holds an API key" in result.output
    assert "sk-proj-abcdefgh12345" not in result.output


def test_base_url_variables_follow_the_provider(project: Project) -> None:
    kb(project, "manifests/kb/a.md")
    project.manifest(
        "version: 1\nproject: voice\ndocuments:\n  - file: kb/a.md\n"
        "environments:\n  local:\n    agent_id: agent_a\n",
        "manifests/voice.yaml",
    )
    project.manifest(
        "version: 1\nproject: search\nprovider: openai\nvector_store_id: vs_1\n"
        "documents:\n  - file: kb/a.md\nenvironments:\n  local: {}\n",
        "manifests/search.yaml",
    )
    environ = {
        "ELEVENLABS_BASE_URL": "http://127.0.0.1:1/eleven",
        "OPENAI_BASE_URL": "http://127.0.0.1:2/v1",
    }
    session = Session(FakeClock(), environ=environ, cwd=project.root)
    targets = {t.provider: t for t in load_targets(session, (), "local")}
    assert targets[ProviderKind.ELEVENLABS].base_url == "http://127.0.0.1:1/eleven"
    assert targets[ProviderKind.OPENAI].base_url == "http://127.0.0.1:2/v1"


def test_plan_on_openai_plans_the_store(project: Project) -> None:
    kb(project, "kb/hr/leave.md", "kb/sales/prices.md")
    name = project.manifest(HANDBOOK)
    # The embedded emulator has the store, as `kbctl emulator serve --vector-store ID` would.
    result = CliRunner().invoke(cli, ["plan", "-e", "local", "-f", name, "--detailed-exitcode"])
    assert result.exit_code == 2, result.output
    assert "Plan: 2 to create" in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------------------------------------
# Every problem with its file and line

MANIFEST_CASES = [
    (
        "usage-mode-on-openai",
        "provider: openai\nvector_store_id: vs_1\n",
        "documents:\n  - file: kb/a.md\n    usage_mode: prompt\n",
        "m.yaml:7 at documents[0].usage_mode",
        "'usage_mode' does not apply to provider openai, the provider of every environment",
    ),
    (
        "rag-on-openai",
        "provider: openai\nvector_store_id: vs_1\nrag:\n  enabled: true\n",
        "",
        "m.yaml:5 at rag",
        "'rag' does not apply to provider openai",
    ),
    (
        "small-documents-policy-on-openai",
        "provider: openai\nvector_store_id: vs_1\npolicy:\n  small_documents: fail\n",
        "",
        "m.yaml:6 at policy.small_documents",
        "'small_documents' does not apply to provider openai",
    ),
    (
        "metadata-on-elevenlabs",
        "",
        "documents:\n  - file: kb/a.md\n    metadata: {dept: hr}\n",
        "m.yaml:5 at documents[0].metadata",
        "'metadata' does not apply to provider elevenlabs",
    ),
    (
        "chunking-on-elevenlabs",
        "chunking: auto\n",
        "",
        "m.yaml:3 at chunking",
        "'chunking' does not apply to provider elevenlabs",
    ),
    (
        "store-on-elevenlabs-manifest",
        "vector_store_id: vs_1\n",
        "",
        "m.yaml:3 at vector_store_id",
        "'vector_store_id' does not apply to provider elevenlabs",
    ),
    (
        "metadata-too-many-keys",
        "provider: openai\nvector_store_id: vs_1\n",
        "documents:\n  - file: kb/a.md\n    metadata: {"
        + ", ".join(f"k{i}: {i}" for i in range(13))
        + "}\n",
        "m.yaml:7 at documents[0].metadata",
        "has 13 entries; at most 12 are allowed",
    ),
    (
        "metadata-key-too-long",
        "provider: openai\nvector_store_id: vs_1\n",
        "documents:\n  - file: kb/a.md\n    metadata: {" + "k" * 65 + ": 1}\n",
        "m.yaml:7 at documents[0].metadata.kkkk",
        "longer than 64 characters (65)",
    ),
    (
        "metadata-value-too-long",
        "provider: openai\nvector_store_id: vs_1\n",
        "documents:\n  - file: kb/a.md\n    metadata: {title: " + "t" * 513 + "}\n",
        "m.yaml:7 at documents[0].metadata.title",
        "is longer than 512 characters (513)",
    ),
    (
        "metadata-reserved-key",
        "provider: openai\nvector_store_id: vs_1\n",
        "documents:\n  - file: kb/a.md\n    metadata: {kbctl_key: x}\n",
        "m.yaml:7 at documents[0].metadata.kbctl_key",
        "keys starting with kbctl_ are reserved",
    ),
    (
        "metadata-nested-value",
        "provider: openai\nvector_store_id: vs_1\n",
        "documents:\n  - file: kb/a.md\n    metadata: {tags: [a, b]}\n",
        "m.yaml:7 at documents[0].metadata.tags",
        "expected a string or a number or true or false, got a list",
    ),
    (
        "metadata-not-finite",
        "provider: openai\nvector_store_id: vs_1\n",
        "documents:\n  - file: kb/a.md\n    metadata: {score: .inf}\n",
        "m.yaml:7 at documents[0].metadata.score",
        "must be a finite number",
    ),
    (
        "chunking-static-without-sizes",
        "provider: openai\nvector_store_id: vs_1\nchunking: {strategy: static}\n",
        "",
        "m.yaml:5 at chunking",
        "strategy static needs 'max_chunk_size_tokens'",
    ),
    (
        "chunking-overlap-over-half",
        "provider: openai\nvector_store_id: vs_1\n",
        "documents:\n  - file: kb/a.md\n    chunking:\n      strategy: static\n"
        "      max_chunk_size_tokens: 400\n      chunk_overlap_tokens: 201\n",
        "m.yaml:10 at documents[0].chunking.chunk_overlap_tokens",
        "must be at most half of max_chunk_size_tokens (200), got 201",
    ),
    (
        "chunking-size-out-of-range",
        "provider: openai\nvector_store_id: vs_1\n"
        "chunking: {strategy: static, max_chunk_size_tokens: 5000, chunk_overlap_tokens: 0}\n",
        "",
        "m.yaml:5 at chunking.max_chunk_size_tokens",
        "must be <= 4096 (got 5000)",
    ),
    (
        "chunking-auto-with-sizes",
        "provider: openai\nvector_store_id: vs_1\n"
        "chunking: {strategy: auto, max_chunk_size_tokens: 800}\n",
        "",
        "m.yaml:5 at chunking.max_chunk_size_tokens",
        "only allowed with strategy static",
    ),
    (
        "chunking-unknown-word",
        "provider: openai\nvector_store_id: vs_1\nchunking: fixed\n",
        "",
        "m.yaml:5 at chunking",
        "must be auto, or a mapping",
    ),
    (
        "unknown-provider",
        "provider: pinecone\n",
        "",
        "m.yaml:3 at provider",
        "must be one of elevenlabs, openai (got 'pinecone')",
    ),
    (
        "store-id-and-name",
        "provider: openai\nvector_store_id: vs_1\nvector_store: {name: n}\n",
        "",
        "m.yaml:5 at vector_store",
        "give either vector_store_id or vector_store, not both",
    ),
]


@pytest.mark.parametrize(
    ("top", "documents", "where", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in MANIFEST_CASES],
)
def test_manifest_problem_is_reported_with_file_and_line(
    project: Project, top: str, documents: str, where: str, message: str
) -> None:
    kb(project, "kb/a.md")
    env = "environments:\n  local:\n    agent_id: a\n"
    if "provider: openai" in top:
        env = "environments:\n  local: {}\n"
    name = project.manifest("version: 1\nproject: p\n" + top + documents + env)
    result = project.validate("-f", name)
    assert result.exit_code == 1, result.output
    assert where in result.output
    assert message in result.output


ENV_CASES = [
    (
        "openai-without-store",
        "    provider: openai\n",
        "m.yaml:4 at environments.local",
        "provider openai needs vector_store_id: vs_... or vector_store: {name: ...}",
    ),
    (
        "agent-id-on-openai",
        "    provider: openai\n    vector_store_id: vs_1\n    agent_id: a\n",
        "m.yaml:7 at environments.local.agent_id",
        "'agent_id' does not apply to provider openai (environment 'local')",
    ),
    (
        "store-on-elevenlabs-environment",
        "    agent_id: a\n    vector_store: {name: n}\n",
        "m.yaml:6 at environments.local.vector_store",
        "'vector_store' does not apply to provider elevenlabs (environment 'local')",
    ),
    (
        "elevenlabs-without-agent",
        "    protect: true\n",
        "m.yaml:4 at environments.local",
        "missing required key 'agent_id'",
    ),
    (
        "store-id-shape",
        "    provider: openai\n    vector_store_id: store-1\n",
        "m.yaml:6 at environments.local.vector_store_id",
        "vector_store_id 'store-1' must look like vs_...",
    ),
    (
        "rag-in-an-openai-environment",
        "    provider: openai\n    vector_store_id: vs_1\n    rag: {enabled: true}\n",
        "m.yaml:7 at environments.local.rag",
        "'rag' does not apply to provider openai (environment 'local')",
    ),
    (
        "usage-mode-in-an-openai-environment",
        "    provider: openai\n    vector_store_id: vs_1\n"
        "    documents:\n      - {file: kb/a.md, usage_mode: auto}\n",
        "m.yaml:8 at environments.local.documents[0].usage_mode",
        "'usage_mode' does not apply to provider openai (environment 'local')",
    ),
]


@pytest.mark.parametrize(
    ("env", "where", "message"), [pytest.param(*case[1:], id=case[0]) for case in ENV_CASES]
)
def test_environment_problem_is_reported_with_file_and_line(
    project: Project, env: str, where: str, message: str
) -> None:
    kb(project, "kb/a.md")
    name = project.manifest("version: 1\nproject: p\nenvironments:\n  local:\n" + env)
    result = project.validate("-f", name)
    assert result.exit_code == 1, result.output
    assert where in result.output
    assert message in result.output


def test_top_level_settings_are_fine_when_some_environment_uses_them(project: Project) -> None:
    kb(project, "kb/a.md")
    name = project.manifest(
        "version: 1\nproject: p\nrag: {enabled: true}\nvector_store_id: vs_1\n"
        "chunking: auto\ndocuments:\n  - {file: kb/a.md, usage_mode: prompt, metadata: {d: x}}\n"
        "environments:\n  voice:\n    agent_id: a\n  search:\n    provider: openai\n"
    )
    result = project.validate("-f", name)
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------------------------------
# Sidecars


def openai_manifest(project: Project, documents: str) -> str:
    return project.manifest(
        "version: 1\nproject: p\nprovider: openai\nvector_store_id: vs_1\n"
        f"documents:\n{documents}environments:\n  local: {{}}\n"
    )


def test_sidecar_problems_point_at_the_sidecar(project: Project) -> None:
    kb(project, "kb/a.md", "kb/b.md", "kb/c.md")
    project.write("kb/a.md.metadata.yaml", "dept: hr\ndept: sales\n")
    project.write("kb/b.md.metadata.yaml", "title: ok\nkbctl_hash: x\nnested: {a: 1}\n")
    project.write("kb/c.md.metadata.yaml", "- a list\n")
    name = openai_manifest(project, "  - glob: kb/*.md\n")
    result = project.validate("-f", name)
    assert result.exit_code == 1
    out = result.output
    assert "kb/a.md.metadata.yaml:2 at dept: duplicate key 'dept'" in out
    assert "kb/b.md.metadata.yaml:2 at kbctl_hash: invalid name 'kbctl_hash'" in out
    assert "kb/b.md.metadata.yaml:3 at nested: expected a string" in out
    assert "kb/c.md.metadata.yaml:1: expected a mapping, got a list" in out


def test_sidecar_and_manifest_metadata_together_respect_the_limit(project: Project) -> None:
    kb(project, "kb/a.md")
    project.write("kb/a.md.metadata.yaml", "".join(f"s{i}: {i}\n" for i in range(7)))
    inline = ", ".join(f"m{i}: {i}" for i in range(6))
    name = openai_manifest(project, f"  - file: kb/a.md\n    metadata: {{{inline}}}\n")
    result = project.validate("-f", name)
    assert result.exit_code == 1
    assert (
        "m.yaml:6 at documents[0]: kb/a.md has 13 metadata keys with kb/a.md.metadata.yaml; "
        "at most 12"
    ) in result.output


def test_sidecar_outside_the_repository_is_refused(project: Project, tmp_path: Path) -> None:
    kb(project, "kb/a.md")
    (tmp_path.parent / "stolen.yaml").write_text("secret: value\n")
    os.symlink(tmp_path.parent / "stolen.yaml", project.root / "kb/a.md.metadata.yaml")
    name = openai_manifest(project, "  - file: kb/a.md\n")
    result = project.validate("-f", name)
    assert result.exit_code == 1
    assert "m.yaml:6 at documents[0]: kb/a.md.metadata.yaml resolves outside" in result.output
    assert "value" not in result.output.replace("values", "")


def test_sidecars_are_not_documents_and_elevenlabs_ignores_them(project: Project) -> None:
    kb(project, "kb/a.md")
    project.write("kb/a.md.metadata.yaml", "- not even a mapping\n")
    project.write("kb/notes.txt", BODY)
    name = project.manifest(
        "version: 1\nproject: p\ndocuments:\n  - glob: 'kb/*'\n"
        "environments:\n  local:\n    agent_id: a\n"
    )
    result = project.validate("-f", name)
    assert result.exit_code == 0, result.output
    assert "local 2 documents" in result.output


def test_an_empty_sidecar_adds_nothing(project: Project) -> None:
    kb(project, "kb/a.md")
    project.write("kb/a.md.metadata.yaml", "# no metadata yet\n")
    name = openai_manifest(project, "  - file: kb/a.md\n    metadata: {d: x}\n")
    (manifest,) = load_manifests([Path(name)], {})
    assert manifest.resolve("local", {}).documents[0].metadata == (("d", "x"),)


def test_metadata_is_taken_literally_and_never_interpolated(project: Project) -> None:
    kb(project, "kb/a.md", "kb/b.md")
    project.write("kb/b.md.metadata.yaml", "owner: '${USER}'\n")
    name = openai_manifest(
        project,
        "  - file: kb/a.md\n    metadata: {tpl: 'use $${NAME}'}\n"
        "  - file: kb/b.md\n    metadata: {who: '${USER}'}\n",
    )
    result = project.validate("-f", name, env={"USER": "root"})
    assert result.exit_code == 1
    assert "m.yaml:9 at documents[1].metadata.who: '${USER}' is not allowed here" in result.output
    assert "kb/b.md.metadata.yaml:1 at owner: metadata is never interpolated" in result.output
    (project.root / "kb/b.md.metadata.yaml").unlink()
    project.manifest(
        "version: 1\nproject: p\nprovider: openai\nvector_store_id: vs_1\n"
        "documents:\n  - file: kb/a.md\n    metadata: {tpl: 'use $${NAME}'}\n"
        "environments:\n  local: {}\n"
    )
    (manifest,) = load_manifests([Path(name)], {})
    assert manifest.resolve("local", {}).documents[0].metadata == (("tpl", "use ${NAME}"),)
