"""Two environments of one project applied at the same moment, each in its own thread, through
the Python API and kbctl's real HTTP client against one emulated workspace."""

from __future__ import annotations

import threading
from collections import Counter

from kbctl.commands import apply
from kbctl.errors import KbctlError
from kbctl.identity import parse_marker
from tests.sharing.test_promote import deletions, plan_json, write
from tests.snapshots.kit import PRODUCTION_AGENT, STAGING_AGENT, Bench, text_of

ENVIRONMENTS = ("staging", "production")


def apply_together(bench: Bench) -> dict[str, KbctlError | None]:
    """`kbctl apply --auto-approve` of staging and production, started together."""
    start = threading.Barrier(len(ENVIRONMENTS))
    errors: dict[str, KbctlError | None] = {}

    def run(environment: str) -> None:
        session = bench.emulated.session(bench.root)
        start.wait()
        try:
            apply(session, environment, auto_approve=True)
            errors[environment] = None
        except KbctlError as err:
            errors[environment] = err

    threads = [threading.Thread(target=run, args=(env,)) for env in ENVIRONMENTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


def assert_correct(bench: Bench) -> None:
    """Both agents hold every declared document once, and the workspace one copy of each."""
    for environment, agent_id in (("staging", STAGING_AGENT), ("production", PRODUCTION_AGENT)):
        target = bench.target(environment)
        declared = {(s.key, s.content_hash[:12]) for s in target.documents}
        held = [(e.key, e.hash12) for e in bench.entries(agent_id)]
        assert sorted(held) == sorted(declared), environment  # each once, the declared content
        for entry in bench.entries(agent_id):
            assert bench.world.document(entry.id) is not None  # never a deleted id
    copies = Counter(
        (marker.key, marker.hash12)
        for doc in bench.world.documents()
        if (marker := parse_marker(doc.name)) is not None
    )
    assert [k for k, n in copies.items() if n > 1] == []  # no duplicates
    assert ids(bench, STAGING_AGENT) == ids(bench, PRODUCTION_AGENT)  # the very same documents


def ids(bench: Bench, agent_id: str) -> list[str]:
    return sorted(e.id for e in bench.entries(agent_id))


def test_two_environments_applied_together_share_one_copy(bench: Bench) -> None:
    write(bench)
    assert apply_together(bench) == {"staging": None, "production": None}
    assert_correct(bench)

    # Both change b and add d at once: replaced together, still one copy each.
    bench.write("manifests/docs/b.md", text_of("b v2"))
    bench.write("manifests/docs/d.md", text_of("d v1"))
    assert apply_together(bench) == {"staging": None, "production": None}
    assert_correct(bench)

    # What a run kept while the other one applied is cleaned up by the next apply of either.
    for environment in ENVIRONMENTS:
        out = bench.run("apply", "-e", environment, "--auto-approve")
        assert out.exit_code == 0, out.output
    for environment in ENVIRONMENTS:
        assert bench.run("plan", "-e", environment, "--detailed-exitcode").exit_code == 0
        assert deletions(plan_json(bench, environment)) == []
    attached = set(ids(bench, STAGING_AGENT))
    managed = {d.id for d in bench.world.documents() if parse_marker(d.name) is not None}
    assert managed == attached  # no orphan left
