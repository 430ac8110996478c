"""The one JSON reader: its policies, and the paths its callers' errors name."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import pytest

from kbctl.checks.report import CheckResult, ChecksReport, Found
from kbctl.errors import PlanFileError, SnapshotError
from kbctl.jsonread import JsonReader, field_path
from kbctl.model import ChecksPolicy, DocType, RagSettings, UsageMode
from kbctl.plan.planfile import loads as load_plan
from kbctl.snapshots import codec
from kbctl.snapshots.delta import Delta
from kbctl.snapshots.record import Snapshot, SnapshotAgent, SnapshotEntry, SnapshotKind
from kbctl.snapshots.recordfile import dumps_record, parse_record


class Problem(Exception):
    """The caller's own error type."""


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


LENIENT = JsonReader(Problem, integral_floats=True)
STRICT = JsonReader(Problem, keys_required=True)


def _problem(read: object) -> str:
    assert callable(read)
    with pytest.raises(Problem) as caught:
        read()
    return str(caught.value)


def test_paths_name_odd_keys_the_way_json_would() -> None:
    assert field_path("$", "size_bytes") == "$.size_bytes"
    assert field_path("", "agent") == "agent"
    assert field_path("checks[0].ranks", "docs/a.md") == 'checks[0].ranks["docs/a.md"]'


def test_every_problem_names_the_path_and_what_was_there() -> None:
    root = LENIENT.root({"a": {"b": [{"c": None}, {"c": "x"}, {"c": 7}]}}, "answer")
    items = root.obj("a").objs("b")
    assert _problem(lambda: items[0].text("c")) == "answer.a.b[0].c: expected a string, got null"
    assert (
        _problem(lambda: items[1].integer("c")) == "answer.a.b[1].c: expected an integer, got 'x'"
    )
    assert (
        _problem(lambda: items[2].flag("c"))
        == "answer.a.b[2].c: expected true or false, got a number"
    )
    assert _problem(lambda: root.text("gone")) == "answer.gone: missing"
    assert _problem(lambda: LENIENT.root([], "answer")) == "answer: expected an object, got a list"


def test_absent_and_null_are_one_unless_keys_are_required() -> None:
    lenient = LENIENT.root({"n": None}, "x")
    assert lenient.opt_text("n") is None and lenient.opt_text("absent") is None
    assert lenient.opt_objs("absent") == [] and lenient.opt_texts("n") == ()
    strict = STRICT.root({"n": None}, "x")
    assert strict.opt_text("n") is None
    assert _problem(lambda: strict.opt_text("absent")) == "x.absent: missing"
    assert strict.opt_text("absent", missing_ok=True) is None


def test_integers_booleans_and_floats_are_told_apart() -> None:
    data = {"whole": 3.0, "half": 1.5, "yes": True, "n": 4}
    lenient, strict = LENIENT.root(data, "x"), STRICT.root(data, "x")
    assert lenient.integer("whole") == 3 and lenient.integer("n") == 4
    assert _problem(lambda: strict.integer("whole")) == "x.whole: expected an integer, got 3.0"
    assert _problem(lambda: lenient.integer("half")) == "x.half: expected an integer, got 1.5"
    assert _problem(lambda: lenient.integer("yes")) == "x.yes: expected an integer, got a boolean"
    assert _problem(lambda: lenient.number("yes")) == "x.yes: expected a number, got a boolean"
    assert lenient.number("n") == 4.0 and isinstance(lenient.number("n"), float)


def test_enums_mappings_and_scalars() -> None:
    root = LENIENT.root({"c": "green", "m": {"a": 1, "b.c": "2"}, "s": [1]}, "x")
    assert _problem(lambda: root.enum("c", Colour)) == (
        "x.c: expected one of red, blue, got 'green'"
    )
    assert _problem(lambda: root.obj("m").values(LENIENT.int_at)) == (
        "x.m[\"b.c\"]: expected an integer, got '2'"
    )
    assert _problem(lambda: root.scalar("s")) == (
        "x.s: expected a string, number, boolean or null, got a list"
    )


def test_a_plan_file_names_the_field_and_what_it_held() -> None:
    with pytest.raises(PlanFileError) as caught:
        load_plan(json.dumps({"format_version": 2, "environment": ["staging"]}))
    assert caught.value.summary == "The plan file has a bad field"
    assert caught.value.detail == "$.environment: expected a string, got a list"


def _snapshot() -> Snapshot:
    entry = SnapshotEntry("d1", "a.md", DocType.TEXT, UsageMode.AUTO, "a.md", None, True)
    result = CheckResult("q", ("a.md",), 3, (Found("d1", "a.md", "a.md"),), (("a.md", 1),))
    return Snapshot(
        id="abcd1234",
        environment="staging",
        project="demo",
        manifest="kb.yaml",
        kind=SnapshotKind.AFTER,
        created_at="2026-01-01T00:00:00Z",
        apply_id="run",
        seq=1,
        git_commit=None,
        operation="apply",
        agent=SnapshotAgent("agent_1", None, None),
        rag=RagSettings(),
        knowledge_base=(entry,),
        outcome="applied",
        checks={"after_swap": ChecksReport((result,), ChecksPolicy())},
    )


def test_a_snapshot_round_trips() -> None:
    snapshot = _snapshot()
    assert codec.loads(codec.dumps(snapshot), "s.json") == snapshot


@pytest.mark.parametrize(
    ("path", "value", "detail"),
    [
        (
            ("checks", "after_swap", "checks", 0, "top_k"),
            "3",
            "snapshot.checks.after_swap.checks[0].top_k: expected an integer, got '3'",
        ),
        (
            ("checks", "after_swap", "checks", 0, "ranks", "a.md"),
            1.5,
            'snapshot.checks.after_swap.checks[0].ranks["a.md"]: expected an integer, got 1.5',
        ),
        (
            ("knowledge_base", 0, "managed"),
            "yes",
            "snapshot.knowledge_base[0].managed: expected true or false, got 'yes'",
        ),
        (("plan_summary",), {"create": True}, "snapshot.plan_summary.create: expected an integer"),
        (("rag", "enabled"), "on", "snapshot.rag.enabled: expected true or false, got 'on'"),
    ],
)
def test_a_bad_snapshot_field_is_named_by_its_whole_path(
    path: tuple[str | int, ...], value: object, detail: str
) -> None:
    data = codec.to_dict(_snapshot())
    node: object = data
    for step in path[:-1]:
        node = node[step]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    with pytest.raises(SnapshotError) as caught:
        codec.loads(json.dumps(data), "s.json")
    assert caught.value.summary == "Snapshot s.json is corrupt"
    assert detail in (caught.value.detail or "")


def _delta_record() -> dict[str, Any]:
    snapshot = _snapshot()
    assert snapshot.knowledge_base is not None
    entry = snapshot.knowledge_base[0]
    delta = Delta("20260101T000000Z-abcd0000.json", 1, 1, ("d0",), ((0, entry),), "0" * 64)
    data: dict[str, Any] = json.loads(dumps_record(snapshot, delta))
    return data


def test_a_delta_record_round_trips() -> None:
    stored = parse_record(json.dumps(_delta_record()), "s.json")
    assert stored.delta is not None and stored.delta.removed == ("d0",)
    assert stored.delta.inserted[0][1].key == "a.md"


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("depth", 0, "snapshot.knowledge_base_delta.depth: expected an integer ≥ 1, got 0"),
        (
            "removed",
            [7],
            "snapshot.knowledge_base_delta.removed[0]: expected a string, got a number",
        ),
        ("base", "../x.json", "snapshot.knowledge_base_delta.base: expected a record's file name"),
        (
            "inserted",
            [{"at": 0, "entry": {"id": "d1"}}],
            "snapshot.knowledge_base_delta.inserted[0].entry.name: missing",
        ),
        (
            "inserted",
            [{"at": True, "entry": {}}],
            "snapshot.knowledge_base_delta.inserted[0].at: expected an integer, got a boolean",
        ),
    ],
)
def test_a_bad_delta_field_is_named_by_its_whole_path(
    field: str, value: object, detail: str
) -> None:
    data = _delta_record()
    data["knowledge_base_delta"][field] = value
    with pytest.raises(SnapshotError) as caught:
        parse_record(json.dumps(data), "s.json")
    assert caught.value.summary == "Snapshot s.json is corrupt"
    assert detail in (caught.value.detail or "")
