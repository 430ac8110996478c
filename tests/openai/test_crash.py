"""A run killed at any request (the request itself takes effect, its answer is lost, nothing
after it is sent), then one more apply: the store converges to the manifest with no duplicate
file, no leftover File and no lease left behind."""

from __future__ import annotations

import pytest

from kbctl import commands
from kbctl.apply.lease import TTL
from tests.jsonview import view
from tests.openai.conftest import Handbook, Killed


def requests_of_a_run(handbook: Handbook, change: bool) -> int:
    before = len(handbook.recorder.requests)
    if change:
        edit(handbook)
    handbook.apply()
    return len(handbook.recorder.requests) - before


def edit(handbook: Handbook) -> None:
    doc = handbook.doc("kb/hr/leave/sick-leave.md")
    doc.write_text(doc.read_text() + "Part-time staff get the same rules, pro rata.\n")
    sidecar = handbook.doc("kb/it/security/passwords.md.metadata.yaml")
    sidecar.write_text(sidecar.read_text().replace("version: 3", "version: 5"))


def kill_then_converge(handbook: Handbook, at: int, *, change: bool) -> None:
    if change:
        handbook.apply()
        edit(handbook)
    handbook.recorder.kill_at = at
    with pytest.raises(Killed):
        handbook.apply()
    handbook.recorder.kill_at, handbook.recorder.dead = None, False
    handbook.clock.advance(TTL + 1)  # the dead run's lease expires

    handbook.apply()
    attached = handbook.world.store_files(handbook.store_id())
    keys = [view(f).obj("attributes").text("kbctl_key") for f in attached]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 5, keys
    assert all(f["status"] == "completed" for f in attached)
    assert sorted(handbook.world.file_ids()) == sorted(view(f).text("id") for f in attached)
    # A dead run's lease (an empty store) may stay, expired, when the rerun had nothing to do:
    # the next apply that takes the lease removes it.
    stores = [view(s).text("name") for s in handbook.world.stores()]
    assert [n for n in stores if not n.startswith("kbctl-lease")] == ["company-handbook-local"]
    assert not commands.plan(handbook.session, "local").plan.has_changes
    if change:
        attributes = [view(f).obj("attributes") for f in attached]
        versions = {a.text("kbctl_key"): a.opt_integer("version") for a in attributes}
        assert versions["kb/it/security/passwords.md"] == 5


@pytest.mark.parametrize("at", [1, 4, 8, 12, 16, 20])
def test_a_first_apply_killed_then_rerun_converges(handbook: Handbook, at: int) -> None:
    kill_then_converge(handbook, at, change=False)


@pytest.mark.parametrize("at", [3, 6, 9, 12])
def test_a_replace_killed_then_rerun_converges(handbook: Handbook, at: int) -> None:
    kill_then_converge(handbook, at, change=True)


@pytest.mark.slow
def test_killed_at_every_request_of_a_first_apply_and_of_a_change(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    first = requests_of_a_run(Handbook(tmp_path_factory.mktemp("count")), change=False)
    book = Handbook(tmp_path_factory.mktemp("count2"))
    book.apply()
    second = requests_of_a_run(book, change=True)
    for at in range(1, first + 1):
        kill_then_converge(Handbook(tmp_path_factory.mktemp(f"first{at}")), at, change=False)
    for at in range(1, second + 1):
        kill_then_converge(Handbook(tmp_path_factory.mktemp(f"change{at}")), at, change=True)
