"""Reading JSON in tests (emulator records, `--json` output, snapshot files) through kbctl's own
typed reader: `view(data).obj("file_counts").integer("completed")`. A field that is missing or of
another type fails the test with its path, instead of a `KeyError` or an `object` for mypy."""

from __future__ import annotations

from kbctl.jsonread import JsonObj, JsonReader

_READER = JsonReader(AssertionError)


def view(data: object, where: str = "json") -> JsonObj:
    """`data` (a parsed JSON object) read field by field; problems are `AssertionError`s."""
    return _READER.root(data, where)
