"""An OpenAI vector store is called one in human output: plan (text and Markdown), apply's
lines and its index-gate error, status, check and a saved plan's apply. JSON keeps its field
names (`agent_id`). Through the CLI and the default wiring against the emulator's OpenAI side."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kbctl.cli.main import cli
from kbctl.errors import ExitCode
from tests.openai.conftest import REPO

KEY = "sk-wording-test-key"
STORE = "vs_handbook"
Run = Callable[..., Result]
NO_CHANGES_OF_A_STORE = "No changes. The store's files match the manifest."


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The handbook example, its local environment pointed at the existing store `vs_handbook`
    (so output has a `vs_…` id to name); indexing of files containing BROKEN fails."""
    shutil.copytree(REPO / "manifests" / "kb", tmp_path / "manifests" / "kb")
    manifest = (REPO / "manifests" / "handbook.yaml").read_text()
    by_name = "vector_store: {name: company-handbook-local}"
    assert by_name in manifest
    manifest = manifest.replace(by_name, f"vector_store_id: {STORE}")
    (tmp_path / "manifests" / "handbook.yaml").write_text(manifest)
    monkeypatch.chdir(tmp_path)
    url = f"emulator://{tmp_path}/emu?index_seconds=0&vector_store={STORE}"
    monkeypatch.setenv("OPENAI_BASE_URL", url + "&fail_index_containing=BROKEN")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert KEY not in result.output
        return result

    return invoke


def _says_store(output: str) -> None:
    assert f"agent {STORE}" not in output, output
    assert "Agent " not in output and "the agent" not in output.lower(), output


def test_plan_apply_status_and_check_name_a_vector_store(run: Run) -> None:
    text = run("plan", "-e", "local")
    assert text.exit_code == 0, text.output
    assert f"Vector store {STORE} · environment local" in text.output
    _says_store(text.output)

    markdown = run("plan", "-e", "local", "--format", "markdown")
    assert "| vector store | create |" in markdown.output
    _says_store(markdown.output)

    data = json.loads(run("plan", "-e", "local", "--format", "json").output)
    assert data["agents"][0]["agent_id"] == STORE  # JSON keeps its field names
    assert "vector store" not in json.dumps(data)

    applied = run("apply", "-e", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert f"applying company-handbook/local to vector store {STORE}: 5 to create" in (
        applied.output
    )
    assert "updating the store's files (5 entries)" in applied.output
    assert f"updated vector store {STORE}, verified" in applied.output
    assert f"vector store {STORE}: 5 created" in applied.output
    _says_store(applied.output)

    status = run("status", "-e", "local")
    assert f"vector store {STORE}" in status.output
    assert "no drift: the store matches the manifest" in status.output
    _says_store(status.output)

    check = run("check", "-e", "local")
    assert check.exit_code == 0, check.output
    assert f"company-handbook/local  vector store {STORE}\n" in check.output
    _says_store(check.output)

    doc = Path("manifests/kb/it/security/passwords.md")
    doc.write_text(doc.read_text() + "\nPasswords are never shared.\n")
    changed = run("apply", "-e", "local", "--auto-approve", "--json")
    assert changed.exit_code == 0, changed.output
    started = [json.loads(line) for line in changed.stdout.splitlines() if "plan_started" in line]
    assert [r["agent_id"] for r in started] == [STORE]  # JSON events keep their field names
    assert "vector store" not in changed.stdout

    events = run("apply", "-e", "local", "--auto-approve", "--json")
    assert events.exit_code == 0, events.output
    records = [json.loads(line) for line in events.stdout.splitlines() if line.startswith("{")]
    assert records == [
        {"event": "note", "time": records[0]["time"], "message": NO_CHANGES_OF_A_STORE}
    ]


def test_a_saved_plan_and_a_failed_gate_say_the_store_was_not_changed(
    run: Run, tmp_path: Path
) -> None:
    assert run("apply", "-e", "local", "--auto-approve").exit_code == 0
    doc = tmp_path / "manifests" / "kb" / "it" / "security" / "passwords.md"
    doc.write_text(doc.read_text() + "\nBROKEN: this version does not index.\n")

    assert run("plan", "-e", "local", "--out", "plan.json").exit_code == 0
    failed = run("apply", "-e", "local", "plan.json")
    assert failed.exit_code == ExitCode.INDEX_GATE, failed.output
    assert f"index gate for company-handbook/local (vector store {STORE})" in failed.output
    assert "The store was not changed; the 1 document(s) this run created were deleted" in (
        failed.output
    )
    _says_store(failed.output)
