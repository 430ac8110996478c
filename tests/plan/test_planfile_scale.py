"""Plan files that scale: unchanged documents are summarised (a count and a digest), so the file
of a plan that changes nothing stays small whatever the number of documents."""

from __future__ import annotations

import json

from kbctl.errors import PlanFileError
from kbctl.plan.planfile import dumps, loads, unlisted
from kbctl.plan.planner import make_plan
from kbctl.plan.types import Plan
from tests.plan.builders import ENVIRONMENT, build_live, build_target


def _unchanged(n: int, *, changed: int = 0) -> Plan:
    """A plan of `n` declared documents, all attached and indexed; `changed` of them edited."""
    keys = [(f"docs/d{i:05d}.md", f"{i:05x}") for i in range(n)]
    target = build_target(
        {
            "documents": [
                {"key": key, "hash": "f" + h[1:] if i < changed else h}
                for i, (key, h) in enumerate(keys)
            ]
        }
    )
    live = build_live(
        {
            "knowledge_base": [
                {"id": f"doc{i}", "key": k, "hash": h} for i, (k, h) in enumerate(keys)
            ]
        }
    )
    return make_plan(ENVIRONMENT, [(target, live)])


def test_a_no_change_plan_of_10000_documents_is_a_few_kilobytes() -> None:
    big = _unchanged(10_000)
    assert big.summary.noop == 10_000 and not big.has_changes
    text = dumps(big)
    assert len(text.encode()) < 4_000  # it was ~8.7 MB when every document was listed
    small = dumps(_unchanged(10))
    assert abs(len(text) - len(small)) < 16  # the size does not grow with the documents
    data = json.loads(text)
    assert data["changes"] == []
    assert data["summary"]["noop"] == 10_000
    assert data["agents"][0]["unlisted"]["noop"] == 10_000
    assert data["agents"][0]["unlisted"]["knowledge_base"] == 10_000
    assert loads(text) == unlisted(big)
    assert loads(text).summary == big.summary


def test_a_change_plan_lists_only_the_changes() -> None:
    plan = _unchanged(2_000, changed=20)
    data = json.loads(dumps(plan))
    assert [c["action"] for c in data["changes"]] == ["replace"] * 20
    assert data["summary"]["replace"] == 20 and data["summary"]["noop"] == 1_980
    assert len(dumps(plan).encode()) < 20 * 1_500 + 4_000


def test_the_digests_follow_what_they_summarise() -> None:
    one = json.loads(dumps(_unchanged(50)))["agents"][0]["unlisted"]
    other = json.loads(dumps(_unchanged(51)))["agents"][0]["unlisted"]
    assert one["noop_digest"] != other["noop_digest"]
    assert one["knowledge_base_digest"] != other["knowledge_base_digest"]
    again = json.loads(dumps(_unchanged(50)))["agents"][0]["unlisted"]
    assert again == one


def test_the_json_output_lists_unchanged_documents_and_reads_back_as_the_same_plan() -> None:
    """`kbctl plan --format json` (stdout) lists every unchanged document as a `noop` change
    with its key; read back, it is the same plan as the file `--out` writes."""
    plan = _unchanged(30, changed=3)
    listed = json.loads(dumps(plan, list_unchanged=True))
    actions = [(c["action"], c["key"]) for c in listed["changes"]]
    assert [a for a, _ in actions].count("noop") == 27
    assert {k for a, k in actions if a == "noop"} == {f"docs/d{i:05d}.md" for i in range(3, 30)}
    assert loads(dumps(plan, list_unchanged=True)) == loads(dumps(plan)) == unlisted(plan)


def test_a_listing_that_disagrees_with_its_summary_is_refused() -> None:
    data = json.loads(dumps(_unchanged(5), list_unchanged=True))
    data["changes"] = data["changes"][:-1]  # one noop fewer than `unlisted` counts
    try:
        loads(json.dumps(data))
    except PlanFileError as err:
        assert "but its summary counts 5" in err.summary + (err.detail or "")
    else:
        raise AssertionError("an inconsistent listing was read")
