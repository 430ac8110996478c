"""The fake runner's `${{ }}` evaluator agrees with GitHub on the expressions the workflows use."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.expressions import (
    Context,
    ExpressionError,
    Status,
    condition,
    evaluate,
    interpolate,
)


def ctx(**values: Any) -> Context:
    return Context(values)


@pytest.mark.parametrize(
    ("allow", "expected"), [(True, "--allow-destroy"), (False, ""), (None, "")]
)
def test_and_or_pick_an_operand(allow: Any, expected: str) -> None:
    context = ctx(inputs={"allow-destroy": allow})
    text = "${{ inputs.allow-destroy && '--allow-destroy' || '' }}"
    assert interpolate(text, context) == expected


def test_property_access_is_case_insensitive_and_missing_is_null() -> None:
    context = ctx(github={"event": {"pull_request": {"head": {"repo": {"full_name": "a/b"}}}}})
    assert evaluate("github.event.pull_request.head.repo.full_name", context) == "a/b"
    assert evaluate("GitHub.Event.Pull_Request.number", context) is None
    assert evaluate("github.event['pull_request'].head.repo['full_name']", context) == "a/b"


def test_string_comparison_ignores_case_and_loose_types_compare_as_numbers() -> None:
    context = ctx(steps={"s": {"outputs": {"fork": "False", "code": "2"}}})
    assert evaluate("steps.s.outputs.fork == 'false'", context) is True
    assert evaluate("steps.s.outputs.code == 2", context) is True
    assert evaluate("steps.s.outputs.missing == ''", context) is True
    assert evaluate("!steps.s.outputs.missing", context) is True


def test_conditions_imply_success_unless_they_call_a_status_function() -> None:
    failed = Context({"steps": {}}, Status(failed=True))
    assert condition(None, failed) is False
    assert condition("true", failed) is False
    assert condition("${{ !cancelled() }}", failed) is True
    assert condition("always()", failed) is True
    assert condition("failure() && true", failed) is True
    skipped = Context({}, Status(skipped_needs=True))
    assert condition(None, skipped) is False
    assert condition("${{ !cancelled() }}", skipped) is True


def test_interpolation_in_text_and_typed_values() -> None:
    context = ctx(runner={"temp": "/t"}, inputs={"n": 7}, github={"x": True})
    assert interpolate("${{ runner.temp }}/kbctl-plan", context) == "/t/kbctl-plan"
    assert interpolate("${{ inputs.n }}", context) == 7
    assert interpolate("pr-${{ inputs.n }}-${{ github.x }}", context) == "pr-7-true"
    assert interpolate("${{ format('{0}-{1}', 'a', inputs.n) }}", context) == "a-7"


def test_unknown_syntax_is_an_error() -> None:
    with pytest.raises(ExpressionError):
        evaluate("inputs.x ~ 1", ctx())
    with pytest.raises(ExpressionError):
        evaluate("nosuchfunction()", ctx())


def test_object_filters_map_over_items() -> None:
    labels = {"pull_request": {"labels": [{"name": "docs"}, {"name": "kbctl:allow-destroy"}]}}
    context = ctx(github={"event": labels})
    assert evaluate("github.event.pull_request.labels.*.name", context) == [
        "docs",
        "kbctl:allow-destroy",
    ]
    assert evaluate(
        "contains(github.event.pull_request.labels.*.name, 'kbctl:allow-destroy')", context
    )
    assert not evaluate("contains(github.event.pull_request.labels.*.name, 'kbctl')", context)
