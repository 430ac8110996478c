"""Plan files: canonical bytes, a golden example of the format, and every way `loads` refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kbctl.errors import PlanFileError
from kbctl.plan.planfile import dumps, loads, plan_to_dict
from kbctl.plan.planner import make_plan
from kbctl.plan.types import Plan
from tests.plan.builders import load_case
from tests.plan.conftest import CASES

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
    assert data["format_version"] == 1
    assert data["summary"] == {"create": 1, "replace": 1, "update": 0, "delete": 1, "noop": 0}
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
        (_mutate(lambda d: d.update(format_version=2)), "Unknown plan format version: 2", "1"),
        (_mutate(lambda d: d.pop("format_version")), "missing a field", "$.format_version"),
        (_mutate(lambda d: d.pop("environment")), "missing a field", "$.environment"),
        (
            _mutate(lambda d: d["agents"][0].pop("knowledge_base")),
            "missing a field",
            "$.agents[0].knowledge_base",
        ),
        (
            _mutate(lambda d: d["changes"][1].update(action="explode")),
            "bad field",
            "$.changes[1].action: expected one of create, replace, update, delete, noop",
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
    assert loads(json.dumps(data)) == _plan()
