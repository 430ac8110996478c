"""`kbctl validate`: one test per rule, each checking the exit code, the file and the line."""

from __future__ import annotations

import os

import pytest

from tests.manifest.conftest import MINIMAL, Project

# Lines 1-5 are MINIMAL; what a case appends starts at line 6.
CASES: list[tuple[str, str, dict[str, str | bytes], str, str]] = [
    (
        "yaml-syntax",
        "version: 1\nproject: demo\nenvironments:\n  local:\n    agent_id: x\n   bad: 1\n",
        {},
        "m.yaml:6",
        "YAML syntax error",
    ),
    (
        "misspelled-top-level-key",
        MINIMAL + "polcy:\n  max_deletes: 3\n",
        {},
        "m.yaml:6 at polcy",
        "unknown key 'polcy'; did you mean 'policy'?",
    ),
    (
        "misspelled-document-key",
        MINIMAL + "documents:\n  - globb: '*.md'\n",
        {},
        "m.yaml:7 at documents[0].globb",
        "did you mean 'glob'?",
    ),
    (
        "unknown-key-without-close-match",
        MINIMAL + "owner: team-a\n",
        {},
        "m.yaml:6 at owner",
        "unknown key 'owner' (expected one of: checks, checks_policy",
    ),
    (
        "wrong-type",
        MINIMAL + "    protect: 'yes'\n",
        {},
        "m.yaml:6 at environments.local.protect",
        "expected true or false, got 'yes' (a string)",
    ),
    (
        "wrong-enum-value",
        MINIMAL + "rag:\n  embedding_model: multilingual_e5_large\n",
        {},
        "m.yaml:7 at rag.embedding_model",
        "did you mean 'multilingual_e5_large_instruct'?",
    ),
    (
        "out-of-range",
        MINIMAL + "rag:\n  max_retrieved_rag_chunks_count: 21\n",
        {},
        "m.yaml:7 at rag.max_retrieved_rag_chunks_count",
        "must be <= 20 (got 21)",
    ),
    (
        "duplicate-yaml-key",
        MINIMAL + "    agent_id: agent_other\n",
        {},
        "m.yaml:6 at environments.local.agent_id",
        "duplicate key 'agent_id' (first defined at line 5)",
    ),
    (
        "duplicate-document-key",
        MINIMAL + "documents:\n  - glob: kb/*.md\n  - glob: kb/a.*\n",
        {"kb/a.md": "# A\n" + "a" * 600},
        "m.yaml:8 at documents[1]",
        "duplicate document key 'kb/a.md' (also declared at m.yaml:7 documents[0]); leave it "
        "out of one glob with 'exclude:'",
    ),
    (
        "duplicate-key-between-text-and-url",
        MINIMAL + "documents:\n  - {key: faq, text: hello}\n  - {key: faq, url: 'https://x.io'}\n",
        {},
        "m.yaml:8 at documents[1]",
        "duplicate document key 'faq'",
    ),
    (
        "glob-matches-nothing",
        MINIMAL + "documents:\n  - glob: quarter/*.md\n",
        {"quarters/a.md": "# A\n"},
        "m.yaml:7 at documents[0].glob",
        "glob 'quarter/*.md' matches no files",
    ),
    (
        "missing-file",
        MINIMAL + "documents:\n  - file: kb/price-list.pdf\n",
        {},
        "m.yaml:7 at documents[0].file",
        "file not found: kb/price-list.pdf",
    ),
    (
        "file-is-a-directory",
        MINIMAL + "documents:\n  - file: notes.md\n",
        {"notes.md/inner.txt": "x"},
        "m.yaml:7 at documents[0].file",
        "notes.md is a directory",
    ),
    (
        "text-file-not-utf8",
        MINIMAL + "documents:\n  - glob: kb/*.txt\n",
        {"kb/ok.txt": "fine", "kb/latin1.txt": "caf\xe9".encode("latin-1")},
        "m.yaml:7 at documents[0].glob",
        "kb/latin1.txt is not UTF-8 text (byte 0xe9 at offset 3)",
    ),
    (
        "binary-text-file",
        MINIMAL + "documents:\n  - file: blob.md\n",
        {"blob.md": b"\x00\x01\x02"},
        "m.yaml:7 at documents[0].file",
        "blob.md looks binary",
    ),
    (
        "unsupported-file-type",
        MINIMAL + "documents:\n  - file: kb/notes.rtf\n",
        {"kb/notes.rtf": "{\\rtf1}"},
        "m.yaml:7 at documents[0].file",
        "unsupported file type '.rtf' (kb/notes.rtf); supported: .md, .markdown, .txt, .pdf",
    ),
    (
        "absolute-path",
        MINIMAL + "documents:\n  - file: /etc/hostname.txt\n",
        {},
        "m.yaml:7 at documents[0].file",
        "must be a path relative to the manifest's directory",
    ),
    (
        "environment-without-agent-id",
        MINIMAL + "  staging:\n    protect: true\n",
        {},
        "m.yaml:6 at environments.staging",
        "missing required key 'agent_id'",
    ),
    (
        "agent-id-empty",
        MINIMAL + "  staging:\n    agent_id: ''\n",
        {},
        "m.yaml:7 at environments.staging.agent_id",
        "agent_id is empty",
    ),
    (
        "invalid-project-slug",
        "version: 1\nproject: Birby_Quarters\nenvironments:\n  local:\n    agent_id: a\n",
        {},
        "m.yaml:2 at project",
        "'Birby_Quarters' must be lowercase letters, digits and dashes",
    ),
    (
        "missing-project",
        "version: 1\nenvironments:\n  local:\n    agent_id: a\n",
        {},
        "m.yaml:1",
        "missing required key 'project'",
    ),
    (
        "unsupported-version",
        MINIMAL.replace("version: 1", "version: 2"),
        {},
        "m.yaml:1 at version",
        "unsupported version 2; this kbctl reads version 1",
    ),
    (
        "invalid-environment-name",
        MINIMAL + "  Staging:\n    agent_id: a\n",
        {},
        "m.yaml:6 at environments.Staging",
        "invalid name 'Staging'",
    ),
    (
        "no-environments",
        "version: 1\nproject: demo\nenvironments: {}\n",
        {},
        "m.yaml:3 at environments",
        "must not be empty",
    ),
    (
        "text-without-key",
        MINIMAL + "documents:\n  - text: Opening hours are 9 to 18.\n",
        {},
        "m.yaml:7 at documents[0]",
        "a text document needs a 'key'",
    ),
    (
        "two-sources-in-one-document",
        MINIMAL + "documents:\n  - url: https://example.com/faq\n    file: faq.md\n",
        {"faq.md": "# FAQ\n"},
        "m.yaml:7 at documents[0]",
        "a document takes exactly one of glob, text, url, file (found url, file)",
    ),
    (
        "no-source",
        MINIMAL + "documents:\n  - usage_mode: prompt\n",
        {},
        "m.yaml:7 at documents[0]",
        "a document needs one of glob, text, url, file",
    ),
    (
        "key-with-glob",
        MINIMAL + "documents:\n  - glob: '*.md'\n    key: all\n",
        {"a.md": "# A\n"},
        "m.yaml:8 at documents[0].key",
        "'key' is not allowed with 'glob'",
    ),
    (
        "url-not-http",
        MINIMAL + "documents:\n  - url: ftp://example.com/faq\n",
        {},
        "m.yaml:7 at documents[0].url",
        "'ftp://example.com/faq' is not an http(s) URL",
    ),
    (
        "base-url-scheme",
        MINIMAL + "    base_url: api.elevenlabs.io\n",
        {},
        "m.yaml:6 at environments.local.base_url",
        "must be an http(s) URL or emulator://PATH",
    ),
    (
        "key-with-marker-separator",
        MINIMAL + "documents:\n  - {key: 'a · b', text: hello}\n",
        {},
        "m.yaml:7 at documents[0].key",
        "must not contain ' · '",
    ),
    (
        "malformed-variable-in-agent-id",
        MINIMAL.replace("agent_local", "agent_${SUFFIX-1}"),
        {},
        "m.yaml:5 at environments.local.agent_id",
        "malformed variable reference '${SUFFIX-1}'",
    ),
    (
        "malformed-variable",
        MINIMAL + "documents:\n  - {key: a, text: 'price ${PRICE-EUR}'}\n",
        {},
        "m.yaml:7 at documents[0].text",
        "'${PRICE-EUR}' is not allowed here",
    ),
    (
        "check-expects-unknown-key",
        MINIMAL
        + "documents:\n  - {key: faq, text: hello}\n"
        + "checks:\n  - query: opening hours?\n    expect: [faq, fqa]\n",
        {},
        "m.yaml:10 at checks[0].expect[1]",
        "expect names unknown document key 'fqa'; did you mean 'faq'?",
    ),
    (
        "check-without-query",
        MINIMAL + "documents:\n  - {key: faq, text: hello}\nchecks:\n  - expect: faq\n",
        {},
        "m.yaml:9 at checks[0]",
        "missing required key 'query'",
    ),
    (
        "check-top-k",
        MINIMAL
        + "documents:\n  - {key: faq, text: hello}\n"
        + "checks:\n  - {query: q, expect: faq, top_k: 0}\n",
        {},
        "m.yaml:9 at checks[0].top_k",
        "must be >= 1 (got 0)",
    ),
    (
        "checks-policy",
        MINIMAL + "checks_policy:\n  min_coverage: 1.5\n  on_failure: ignore\n",
        {},
        "m.yaml:8 at checks_policy.on_failure",
        "must be one of abort, warn (got 'ignore')",
    ),
    (
        "empty-manifest",
        "",
        {},
        "m.yaml",
        "the manifest is empty",
    ),
]


@pytest.mark.parametrize(
    ("manifest", "files", "where", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_rule_is_reported_with_file_and_line(
    project: Project, manifest: str, files: dict[str, str | bytes], where: str, message: str
) -> None:
    for rel, content in files.items():
        project.write(rel, content)
    name = project.manifest(manifest)
    result = project.validate("-f", name)
    assert result.exit_code == 1, result.output
    assert "Error: " in result.output
    assert where in result.output
    assert message in result.output


def test_every_problem_is_reported_at_once(project: Project) -> None:
    name = project.manifest(
        """\
        version: 1
        project: demo
        rag:
          enabeld: true
        documents:
          - glob: nothing/*.md
          - file: missing.pdf
        environments:
          local:
            agent_id: a
          staging: {}
        """
    )
    result = project.validate("-f", name)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "Error: 4 problems in m.yaml"
    for where in ("m.yaml:4 ", "m.yaml:6 ", "m.yaml:7 ", "m.yaml:11 "):
        assert where in result.output


def test_problems_of_every_file_are_reported(project: Project) -> None:
    first = project.manifest(MINIMAL + "extra: 1\n", "a.yaml")
    second = project.manifest(
        MINIMAL.replace("demo", "other") + "documents:\n  - file: x.md\n", "b.yaml"
    )
    result = project.validate("-f", first, "-f", second, "-f", "missing.yaml")
    assert result.exit_code == 1
    assert "a.yaml:6 at extra" in result.output
    assert "b.yaml:7 at documents[0].file" in result.output
    assert "missing.yaml: manifest file not found" in result.output


def test_two_manifests_may_not_share_a_project(project: Project) -> None:
    first = project.manifest(MINIMAL, "a.yaml")
    second = project.manifest(MINIMAL, "b.yaml")
    result = project.validate("-f", first, "-f", second)
    assert result.exit_code == 1
    assert "b.yaml:2 at project: project 'demo' is also declared by a.yaml" in result.output


def test_unset_variable_is_an_error_with_an_environment(project: Project) -> None:
    name = project.manifest(MINIMAL + "  staging:\n    agent_id: ${KBCTL_TEST_AGENT}\n")
    result = project.validate("-f", name, "-e", "staging", env={"KBCTL_TEST_AGENT": None})
    assert result.exit_code == 1
    assert (
        "m.yaml:7 at environments.staging.agent_id: "
        "environment variable KBCTL_TEST_AGENT is not set"
    ) in result.output
    assert "Hint: set KBCTL_TEST_AGENT" in result.output


def test_unset_variable_is_a_warning_without_an_environment(project: Project) -> None:
    name = project.manifest(MINIMAL + "  staging:\n    agent_id: ${KBCTL_TEST_AGENT}\n")
    result = project.validate("-f", name, env={"KBCTL_TEST_AGENT": None})
    assert result.exit_code == 0, result.output
    assert (
        "Warning: m.yaml:7 at environments.staging.agent_id: "
        "environment variable KBCTL_TEST_AGENT is not set"
    ) in result.output
    assert "1 manifest valid: m.yaml (local 0, staging 0 documents)" in result.output


def test_variables_that_are_set_pass(project: Project) -> None:
    name = project.manifest(
        MINIMAL + "  staging:\n    agent_id: ${KBCTL_TEST_AGENT}\n"
        "    base_url: emulator://${KBCTL_TEST_DIR}/emu\n"
    )
    env = {"KBCTL_TEST_AGENT": "agent_s", "KBCTL_TEST_DIR": "state"}
    result = project.validate("-f", name, "-e", "staging", env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 manifest valid: m.yaml (staging 0 documents)"


def test_unknown_environment_lists_the_known_ones(project: Project) -> None:
    name = project.manifest(MINIMAL + "  staging:\n    agent_id: s\n")
    result = project.validate("-f", name, "-e", "stagign")
    assert result.exit_code == 1
    assert "unknown environment 'stagign'; known: local, staging; did you mean 'staging'?" in (
        result.output
    )
    assert "m.yaml" in result.output


def test_unreadable_file(project: Project) -> None:
    if os.name != "posix" or os.geteuid() == 0:
        pytest.skip("permissions do not stop this user from reading")
    secret = project.doc("kb/secret.md")
    secret.chmod(0)
    name = project.manifest(MINIMAL + "documents:\n  - file: kb/secret.md\n")
    try:
        result = project.validate("-f", name)
    finally:
        secret.chmod(0o644)
    assert result.exit_code == 1
    assert "m.yaml:7 at documents[0].file: cannot read kb/secret.md" in result.output


def test_no_manifests_found(project: Project) -> None:
    result = project.validate()
    assert result.exit_code == 1
    assert "Error: no manifests found: manifests/*.yaml matches nothing" in result.output
    assert "Hint:" in result.output


def test_default_manifests_are_validated(project: Project) -> None:
    project.doc("manifests/kb/a.md")
    project.manifest(MINIMAL + "documents:\n  - glob: kb/*.md\n", "manifests/one.yaml")
    project.manifest(MINIMAL.replace("demo", "two"), "manifests/two.yml")
    project.manifest("not: a manifest\n", "manifests/notes.txt")
    result = project.validate()
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "2 manifests valid: one.yaml (local 1 documents); two.yml (local 0 documents)"
    )


def test_default_manifest_problems_name_the_relative_path(project: Project) -> None:
    project.manifest(MINIMAL + "extra: 1\n", "manifests/one.yaml")
    result = project.validate()
    assert result.exit_code == 1
    assert "manifests/one.yaml:6 at extra" in result.output
