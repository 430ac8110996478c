"""`filters:` on a check: the store's search is asked with the attribute filter, so only files
with those attributes can be retrieved; other providers refuse the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbctl import commands
from kbctl.clock import FakeClock
from kbctl.errors import ManifestError
from tests.openai.conftest import Handbook


def test_a_check_filter_reaches_the_store_search(handbook: Handbook) -> None:
    handbook.apply()
    (target,) = commands.plan(handbook.session, "local").targets
    (filtered,) = [c for c in target.checks if c.filters]
    assert filtered.filters == (("dept", "sales"),)
    (run,) = commands.check(handbook.session, "local")
    (sales,) = [r for r in run.report.results if r.query == filtered.query]
    assert sales.passed

    manifest = handbook.manifest()
    manifest.write_text(
        manifest.read_text().replace("filters: {dept: sales}", "filters: {dept: hr}")
    )
    (run,) = commands.check(handbook.session, "local")
    (hr,) = [r for r in run.report.results if r.query == filtered.query]
    assert not hr.passed  # the discounts file is dept sales: the filtered search cannot find it
    searches = [p for m, p in handbook.recorder.requests if p.endswith("/search")]
    assert searches


def test_filters_on_an_elevenlabs_check_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.md").write_text("# A\n\n" + "Text. " * 100)
    (tmp_path / "manifests" / "kb.yaml").write_text(
        "version: 1\nproject: p\ndocuments:\n  - file: a.md\n"
        "environments:\n  local:\n    agent_id: agent_a\n"
        "checks:\n  - query: what?\n    expect: a.md\n    filters: {dept: sales}\n"
    )
    session = commands.Session(FakeClock(), cwd=tmp_path)
    with pytest.raises(ManifestError, match="filters on a check apply to provider openai only"):
        commands.plan(session, "local")
