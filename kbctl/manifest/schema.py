"""The manifest's JSON Schema (package data) and the check against it. The only importer of
`jsonschema`.

Owns: loading `schema.json` through `importlib.resources`, running Draft 2020-12 over parsed
YAML, and turning every jsonschema error into a `Diagnostic` a person can act on (unknown keys
with a "did you mean", enums, types, ranges). No jsonschema type leaves this module.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources

from jsonschema import Draft202012Validator, ValidationError

from kbctl.errors import Diagnostic
from kbctl.manifest.yamlpos import Json, Lines, PathParts, format_path

SCHEMA_RESOURCE = "schema.json"
_SOURCES = ("glob", "text", "url", "file")
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}


def schema_text() -> str:
    """The schema as shipped in the package (for `kbctl` users and editors)."""
    return resources.files("kbctl.manifest").joinpath(SCHEMA_RESOURCE).read_text("utf-8")


@cache
def _validator() -> Draft202012Validator:
    # The schema itself is checked against the metaschema by the tests, not on every run.
    return Draft202012Validator(json.loads(schema_text()))


@cache
def _metadata_validator() -> Draft202012Validator:
    schema = json.loads(schema_text())
    return Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/metadata"})


@cache
def _rag_validator() -> Draft202012Validator:
    schema = json.loads(schema_text())
    return Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/rag"})


def rag_setting_allowed(name: str, value: Json) -> bool:
    """True when a manifest may declare `rag.<name>: value` (the schema's enums and ranges)."""
    return _rag_validator().is_valid({name: value})


def check_metadata(data: Json, lines: Lines, file: str) -> tuple[Diagnostic, ...]:
    """Every violation of a sidecar `<file>.metadata.yaml` (the schema's `metadata`)."""
    return _diagnostics(list(_metadata_validator().iter_errors(data)), lines, file)


def check_schema(data: Json, lines: Lines, file: str) -> tuple[Diagnostic, ...]:
    """Every schema violation of `data`, as diagnostics sorted by line."""
    return _diagnostics(list(_validator().iter_errors(data)), lines, file)


def _diagnostics(errors: list[ValidationError], lines: Lines, file: str) -> tuple[Diagnostic, ...]:
    unknown_at = {tuple(e.absolute_path) for e in errors if e.validator == "additionalProperties"}
    out: list[Diagnostic] = []
    for error in errors:
        parts: PathParts = tuple(error.absolute_path)
        if error.validator == "oneOf" and parts in unknown_at:
            continue  # "unknown key 'glb'; did you mean 'glob'?" already says it
        for sub_parts, message in _describe(error, parts):
            out.append(Diagnostic(file, lines.of(sub_parts), format_path(sub_parts), message))
    return tuple(sorted(set(out), key=lambda d: (d.line or 0, d.path, d.message)))


def _describe(error: ValidationError, parts: PathParts) -> Iterable[tuple[PathParts, str]]:
    """(path, message) pairs for one jsonschema error."""
    kind = error.validator
    value = error.validator_value
    instance = error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if "propertyNames" in error.schema_path:
        name = str(instance)
        if kind == "maxLength":
            why = f"longer than {value} characters ({len(name)})"
        elif kind == "minLength":
            why = "must not be empty"
        else:
            why = str(schema.get("patternErrorMessage", error.message))
        yield (*parts, name), f"invalid name '{_cut(name)}': {why}"
    elif kind == "additionalProperties" and isinstance(instance, Mapping):
        known = sorted(str(k) for k in schema.get("properties", {}))
        for key in sorted(k for k in instance if k not in known):
            yield (*parts, key), _unknown(f"unknown key '{key}'", key, known)
    elif kind == "required" and isinstance(value, Sequence):
        missing = [k for k in value if isinstance(instance, Mapping) and k not in instance]
        for key in missing:
            yield parts, f"missing required key '{key}'"
    elif kind == "dependentRequired" and isinstance(instance, Mapping):
        yield parts, "a text document needs a 'key'"
    elif kind == "oneOf" and isinstance(instance, Mapping):
        present = [k for k in _SOURCES if k in instance]
        if present:
            found = ", ".join(present)
            yield parts, f"a document takes exactly one of glob, text, url, file (found {found})"
        else:
            yield parts, "a document needs one of glob, text, url, file"
    elif kind == "type":
        yield parts, f"expected {_expected(value)}, got {_kind_of(instance)}"
    elif kind == "enum" and isinstance(value, Sequence):
        choices = [str(v) for v in value]
        message = f"must be one of {', '.join(choices)} (got {_show(instance)})"
        close = difflib.get_close_matches(str(instance), choices, n=1, cutoff=0.6)
        yield parts, message + (f"; did you mean '{close[0]}'?" if close else "")
    elif kind == "const":
        if parts == ("version",):
            yield parts, f"unsupported version {_show(instance)}; this kbctl reads version 1"
        else:
            yield parts, f"must be {_show(value)} (got {_show(instance)})"
    elif kind == "pattern":
        yield parts, f"{_show(instance)} {schema.get('patternErrorMessage', f'must match {value}')}"
    elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
        yield parts, f"must be {op[str(kind)]} {value} (got {_show(instance)})"
    elif kind == "minLength":
        yield parts, "must not be empty"
    elif kind == "maxLength" and isinstance(instance, str):
        yield parts, f"is longer than {value} characters ({len(instance)})"
    elif kind == "maxProperties" and isinstance(instance, Mapping):
        yield parts, f"has {len(instance)} entries; at most {value} are allowed"
    elif kind in ("minItems", "minProperties"):
        yield parts, "must not be empty" if value == 1 else f"needs at least {value} entries"
    else:
        yield parts, error.message


def _cut(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown(message: str, word: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean '{close[0]}'?"
    if known:
        return f"{message} (expected one of: {', '.join(known)})"
    return message


def _expected(value: object) -> str:
    names = value if isinstance(value, list) else [value]
    return " or ".join(_TYPE_WORDS.get(str(n), str(n)) for n in names)


def _kind_of(instance: object) -> str:
    if instance is None:
        return "nothing"
    if isinstance(instance, bool):
        return f"{_show(instance)} (a boolean)"
    if isinstance(instance, int | float):
        return f"{_show(instance)} (a number)"
    if isinstance(instance, str):
        return f"{_show(instance)} (a string)"
    if isinstance(instance, list):
        return "a list"
    return "a mapping"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    return str(value)
