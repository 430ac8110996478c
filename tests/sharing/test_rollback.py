"""Rollback with shared documents: a rollback is a plan like any other, so it reuses what another
environment still holds and never deletes what another environment uses."""

from __future__ import annotations

from tests.sharing.test_promote import apply, ids, uploads, write
from tests.snapshots.kit import PRODUCTION_AGENT, STAGING_AGENT, Bench, text_of


def test_rolling_staging_back_reuses_and_keeps_what_production_serves(bench: Bench) -> None:
    write(bench)
    apply(bench, "staging")
    apply(bench, "production")  # promoted: both agents serve the same documents
    served = ids(bench, PRODUCTION_AGENT)
    b_v1 = {e.key: e.id for e in bench.entries(STAGING_AGENT)}["docs/b.md"]

    bench.write("manifests/docs/b.md", text_of("b v2"))
    apply(bench, "staging")  # b v1 stays: production uses it
    assert bench.world.document(b_v1) is not None
    b_v2 = {e.key: e.id for e in bench.entries(STAGING_AGENT)}["docs/b.md"]
    before = uploads(bench)

    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")

    assert out.exit_code == 0, out.output
    assert ids(bench, STAGING_AGENT) == served  # the very documents production serves
    assert uploads(bench) == before  # b v1 reused, not uploaded from the snapshot's blob
    assert bench.world.document(b_v2) is None  # nobody uses b v2 any more
    assert ids(bench, PRODUCTION_AGENT) == served
    assert all(bench.world.document(i) is not None for i in served)


def test_rolling_staging_back_never_deletes_what_production_promoted(bench: Bench) -> None:
    write(bench)
    apply(bench, "staging")
    bench.write("manifests/docs/b.md", text_of("b v2"))
    apply(bench, "staging")
    apply(bench, "production")  # production promotes v2
    served = ids(bench, PRODUCTION_AGENT)
    b_v2 = {e.key: e.id for e in bench.entries(PRODUCTION_AGENT)}["docs/b.md"]

    out = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")

    assert out.exit_code == 0, out.output
    assert b_v2 not in ids(bench, STAGING_AGENT)  # staging serves b v1 again (re-created)
    assert bench.world.document(b_v2) is not None  # production's b v2 stays
    assert ids(bench, PRODUCTION_AGENT) == served
    assert bench.run("plan", "-e", "production", "--detailed-exitcode").exit_code == 0
