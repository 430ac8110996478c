"""Plan files: canonical bytes, a golden example of the format, and every way `loads` refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from kbctl.errors import PlanFileError
from kbctl.plan.planfile import dumps, loads, plan_to_dict, unlisted
from kbctl.plan.planner import make_plan
from kbctl.plan.types import Plan
from tests.plan.builders import load_case
from tests.plan.conftest import CASES, HERE

Golden = Callable[[str, str], None]


def _plan(name: str = "unmanaged_kept") -> Plan:
    case = load_case(CASES / f"{name}.yaml")
    return make_plan(case.target.environment, [(case.target, case.live)])


def test_json_golden(golden: Golden) -> None:
    golden("unmanaged_kept.json", dumps(_plan()))


def test_canonical_form() -> None:
    text = dumps(_plan())
    assert text.endswith("}\n") and not text.endswith("\n\n")
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert data["format_version"] == 3
    assert data["summary"] == {
        "create": 1,
        "replace": 1,
        "update": 0,
        "delete": 1,
        "noop": 0,
        "reindex": 0,
    }
    assert data["fingerprint"] == _plan().fingerprint
    assert {c["action"] for c in data["changes"]} == {"create", "replace", "delete"}
    assert all(c["agent_id"] == "agent_1" and c["project"] == "birby" for c in data["changes"])


def test_plan_to_dict_is_json_ready() -> None:
    data = plan_to_dict(_plan("model_change"))
    assert json.loads(json.dumps(data)) == data


def _mutate(edit: Callable[[dict[str, Any]], None]) -> str:
    data = json.loads(dumps(_plan()))
    edit(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "summary", "detail"),
    [
        ("{not json", "not valid JSON", "Expecting property name"),
        ("[]", "bad field", "$: expected an object"),
        (
            _mutate(lambda d: d.update(format_version=4)),
            "Unknown plan format version: 4",
            "1, 2, 3",
        ),
        (_mutate(lambda d: d.pop("format_version")), "missing a field", "$.format_version"),
        (_mutate(lambda d: d.pop("environment")), "missing a field", "$.environment"),
        (
            _mutate(lambda d: d["agents"][0].pop("unlisted")),
            "missing a field",
            "$.agents[0].unlisted",
        ),
        (
            _mutate(lambda d: d["agents"][0]["unlisted"].update(noop="many")),
            "bad field",
            "$.agents[0].unlisted.noop: expected an integer",
        ),
        (
            _mutate(lambda d: d["agents"][0]["unlisted"].update(noop=5)),
            "inconsistent",
            "$.agents[0].summary",
        ),
        (
            _mutate(
                lambda d: next(c for c in d["changes"] if c["action"] == "replace").update(
                    action="noop", needs_index=False
                )
            ),
            "inconsistent",
            "noop change(s), but its summary counts",
        ),
        (
            _mutate(lambda d: d["changes"][1].update(action="explode")),
            "bad field",
            "$.changes[1].action: expected one of create, replace, update, delete, reindex, noop",
        ),
        (
            _mutate(lambda d: d["changes"][0].update(size_bytes="big")),
            "bad field",
            "$.changes[0].size_bytes: expected an integer",
        ),
        (
            _mutate(lambda d: d["changes"][0].update(needs_index=1)),
            "bad field",
            "$.changes[0].needs_index: expected true or false",
        ),
        (
            _mutate(lambda d: d["changes"][0].update(notes=[1])),
            "bad field",
            "$.changes[0].notes[0]: expected a string",
        ),
        (
            _mutate(
                lambda d: d["agents"][0]["rag_changes"].append(
                    {"field": "x", "before": [], "after": 1}
                )
            ),
            "bad field",
            "$.agents[0].rag_changes[0].before",
        ),
        (
            _mutate(lambda d: d["agents"][0]["policy"].update(index_timeout="soon")),
            "bad field",
            "$.agents[0].policy.index_timeout: expected a number",
        ),
        (
            _mutate(lambda d: d["changes"][0].update(agent_id="someone_else")),
            "inconsistent",
            "someone_else",
        ),
        (
            _mutate(lambda d: d["summary"].update(create=7)),
            "inconsistent",
            "$.summary",
        ),
        (
            _mutate(lambda d: d["agents"][0]["summary"].update(delete=0)),
            "inconsistent",
            "$.agents[0].summary",
        ),
        (
            _mutate(lambda d: d["agents"][0].update(fingerprint="0" * 64)),
            "inconsistent",
            "$.fingerprint",
        ),
    ],
)
def test_loads_refuses(text: str, summary: str, detail: str) -> None:
    with pytest.raises(PlanFileError) as caught:
        loads(text)
    assert summary in caught.value.summary
    assert detail in (caught.value.detail or "")
    assert caught.value.hint


def test_integral_numbers_read_back() -> None:
    data = json.loads(dumps(_plan()))
    data["agents"][0]["policy"]["index_timeout"] = 180
    assert loads(json.dumps(data)) == unlisted(_plan())


def test_finding_places_round_trip() -> None:
    plan = _plan("small_prompt")
    placed = plan.agents[0].findings[0]
    assert (placed.file, placed.line) == ("manifests/kb.yaml", 12)
    data = json.loads(dumps(plan))
    places = [(f["file"], f["line"]) for f in data["agents"][0]["findings"]]
    assert places == [("manifests/kb.yaml", 12), ("manifests/kb.yaml", None)]
    assert loads(dumps(plan)) == unlisted(plan)


def test_findings_without_a_place_round_trip_as_null() -> None:
    plan = _plan("small_prompt")
    agent = replace(
        plan.agents[0],
        findings=tuple(replace(f, file=None, line=None) for f in plan.agents[0].findings),
    )
    bare = replace(plan, agents=(agent,))
    findings = json.loads(dumps(bare))["agents"][0]["findings"]
    assert all(f["file"] is None and f["line"] is None for f in findings)
    assert loads(dumps(bare)) == unlisted(bare)


def test_plan_file_written_before_finding_places_still_loads() -> None:
    plan = _plan("small_prompt")
    data = json.loads(dumps(plan))
    for finding in data["agents"][0]["findings"]:
        del finding["file"], finding["line"]
    loaded = loads(json.dumps(data))
    assert [(f.file, f.line) for f in loaded.agents[0].findings] == [(None, None), (None, None)]
    assert [(f.code, f.message) for f in loaded.agents[0].findings] == [
        (f.code, f.message) for f in plan.agents[0].findings
    ]


@pytest.mark.parametrize(("field", "value"), [("file", 3), ("line", "12"), ("line", True)])
def test_loads_refuses_a_bad_finding_place(field: str, value: object) -> None:
    data = json.loads(dumps(_plan("small_prompt")))
    data["agents"][0]["findings"][0][field] = value
    with pytest.raises(PlanFileError) as caught:
        loads(json.dumps(data))
    assert f"$.agents[0].findings[0].{field}" in (caught.value.detail or "")


def test_reads_version_1_files() -> None:
    """A plan file of format version 1 (before `reindex`) is still read: its re-index was a
    `noop` with `needs_index`, and its summary counted it as a noop."""
    old = loads((HERE / "v1" / "model_change.json").read_text(encoding="utf-8"))
    new = _plan("model_change")
    assert old.fingerprint == new.fingerprint
    assert old.agents[0].changes == new.agents[0].changes  # (finding wording has moved on)
    assert [c.action.value for c in old.agents[0].changes] == [
        "reindex",
        "noop",
        "create",
        "delete",
    ]
    assert loads((HERE / "v1" / "unmanaged_kept.json").read_text(encoding="utf-8")) == _plan()


def test_reindex_and_reason_in_json() -> None:
    data = json.loads(dumps(_plan("model_change")))
    assert data["summary"]["reindex"] == 1
    reindex = [c for c in data["changes"] if c["action"] == "reindex"]
    assert [c["key"] for c in reindex] == ["a.md"]
    assert reindex[0]["needs_index"] is True
    edited = json.loads(dumps(_plan("edited_in_place")))
    replaced = [c for c in edited["changes"] if c["action"] == "replace"]
    assert [c["reason"] for c in replaced] == ["edited_in_place", "content_changed"]
