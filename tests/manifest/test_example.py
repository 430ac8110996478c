"""The shipped example manifest: it validates, and resolves offline for `local`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli
from kbctl.manifest import default_manifest_paths, load_manifests, validate
from kbctl.model import MIN_INDEX_BYTES, DocType, UsageMode

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "manifests" / "example.yaml"


@pytest.fixture
def example_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example manifest and its documents, copied into a scratch folder (the cwd)."""
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "manifests" / "example.yaml"


def test_example_is_among_the_default_manifests() -> None:
    assert EXAMPLE in default_manifest_paths(REPO)


def test_example_validates_with_the_cli(example_copy: Path) -> None:
    env = {
        "ELEVENLABS_AGENT_ID": None,
        "ELEVENLABS_AGENT_ID_STAGING": None,
        "HANDBOOK_VECTOR_STORE_ID": None,
    }
    result = CliRunner().invoke(cli, ["validate"], env=env)
    assert result.exit_code == 0, result.output
    assert "example.yaml (local 9, staging 9, production 9 documents)" in result.output
    assert "environment variable ELEVENLABS_AGENT_ID is not set" in result.output

    result = CliRunner().invoke(cli, ["validate", "-e", "local"], env=env)
    assert result.exit_code == 0, result.output
    assert "example.yaml (local 9 documents)" in result.output


def test_example_production_needs_its_agent_id(example_copy: Path) -> None:
    env = {"ELEVENLABS_AGENT_ID": None}
    result = CliRunner().invoke(cli, ["validate", "-e", "production"], env=env)
    assert result.exit_code == 1
    assert "manifests/example.yaml:" in result.output
    assert "environment variable ELEVENLABS_AGENT_ID is not set" in result.output
    result = CliRunner().invoke(
        cli,
        ["validate", "-e", "production"],
        env={"ELEVENLABS_AGENT_ID": "agent_prod"},
    )
    assert result.exit_code == 0, result.output


def test_example_resolves_for_local() -> None:
    (manifest,) = load_manifests([EXAMPLE], {})
    assert manifest.project == "birby-quarters"
    assert manifest.environments == ("local", "staging", "production")
    target = manifest.resolve("local", {})
    assert target.agent_id == "agent_local"
    assert target.base_url == "emulator://.kbctl/emulator"
    assert target.protect is False
    assert target.rag.enabled is True
    assert target.rag.embedding_model == "multilingual_e5_large_instruct"
    assert target.rag.max_retrieved_rag_chunks_count == 20

    quarters = [d for d in target.documents if d.key.startswith("quarters/")]
    assert len(quarters) == 8
    assert len(target.documents) == 9
    assert [d.key for d in quarters] == sorted(d.key for d in quarters)
    assert all(d.doc_type is DocType.TEXT for d in target.documents)
    small = [d.key for d in target.documents if d.size_bytes < MIN_INDEX_BYTES]
    assert small == ["quarters/sales-office.md"]
    cyrillic = [d for d in quarters if sum("а" <= c <= "я" for c in d.content.decode()) > 300]
    assert len(cyrillic) >= 4

    rules = target.documents[-1]
    assert (rules.key, rules.usage_mode) == ("booking-rules", UsageMode.PROMPT)

    keys = {d.key for d in target.documents}
    assert len(target.checks) >= 4
    assert all(set(c.expect) <= keys for c in target.checks)
    assert target.checks_policy.min_coverage == 0.8
    assert target.checks_policy.on_failure == "abort"


def test_example_production_is_protected() -> None:
    (manifest,) = load_manifests([EXAMPLE], {})
    target = manifest.resolve("production", {"ELEVENLABS_AGENT_ID": "agent_prod"})
    assert (target.agent_id, target.protect) == ("agent_prod", True)
    assert target.base_url == "https://api.elevenlabs.io"


def test_example_report_from_python() -> None:
    report = validate([EXAMPLE], {}, None)
    assert report.ok
    assert [m.documents for m in report.manifests] == [
        (("local", 9), ("staging", 9), ("production", 9))
    ]
    assert len(report.warnings) == 2


HANDBOOK = REPO / "manifests" / "handbook.yaml"


def test_openai_example_is_a_default_manifest() -> None:
    assert HANDBOOK in default_manifest_paths(REPO)


def test_openai_example_validates_and_resolves_offline(example_copy: Path) -> None:
    name = "manifests/handbook.yaml"
    result = CliRunner().invoke(
        cli, ["validate", "-f", name], env={"HANDBOOK_VECTOR_STORE_ID": None}
    )
    assert result.exit_code == 0, result.output
    assert "manifest valid: handbook.yaml (local 5 documents)" in result.output

    (manifest,) = load_manifests([Path(name)], {})
    target = manifest.resolve("local", {})
    assert target.vector_store_name == "company-handbook-local"
    docs = {d.key: d for d in target.documents}
    assert sorted(docs) == [
        "kb/hr/leave/annual-leave.md",
        "kb/hr/leave/sick-leave.md",
        "kb/it/security/passwords.md",
        "kb/sales/pricing/discounts.md",
        "kb/sales/pricing/price-list.md",
    ]
    leave = dict(docs["kb/hr/leave/annual-leave.md"].metadata)
    assert leave == {
        "dept": "hr",
        "source": "handbook",
        "title": "Annual leave",
        "version": 4,
        "updated_at": 1767225600,
    }
    prices = docs["kb/sales/pricing/price-list.md"]
    assert dict(prices.metadata)["source"] == "price-book"
    assert prices.chunking is not None and prices.chunking.effective() == (400, 100)
    assert docs["kb/sales/pricing/discounts.md"].chunking is not None
    production = HANDBOOK.read_text().replace("  # production:", "  production:")
    production = production.replace("  #   ", "    ")
    (example_copy.parent / "handbook.yaml").write_text(production)
    (manifest,) = load_manifests([Path(name)], {})
    target = manifest.resolve("production", {"HANDBOOK_VECTOR_STORE_ID": "vs_abc123"})
    assert target.vector_store_id == "vs_abc123" and target.protect
    assert target.base_url == "https://api.openai.com/v1"
