"""`${VAR}` interpolation of manifest strings from a given environment mapping.

Owns the syntax: `${NAME}` (NAME = letters, digits, `_`, not starting with a digit) is replaced
by the variable's value; `$${` is a literal `${`; any other `${…` is malformed. Owns the list of
fields that interpolate at all (`VARIABLE_FIELDS`, documented in docs/manifest.md): everywhere
else, document content, keys, URLs and names included, a `${…}` is an error, so a manifest can
never pull a secret into what kbctl prints or uploads. It never reads `os.environ`: the caller
passes the mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kbctl.manifest.yamlpos import PathParts

#: The only fields where `${VAR}` is read, as paths (`*` = any environment name).
VARIABLE_FIELDS: tuple[tuple[str, ...], ...] = (
    ("environments", "*", "agent_id"),
    ("environments", "*", "base_url"),
    ("vector_store_id",),
    ("environments", "*", "vector_store_id"),
    ("vector_store", "name"),
    ("environments", "*", "vector_store", "name"),
)
#: How the fields are named in messages.
VARIABLE_FIELD_NAMES = "agent_id, base_url, vector_store_id and vector_store.name"
#: Variables that hold API keys: never interpolated, whatever `api_key_env` says.
KEY_VARIABLES = ("ELEVENLABS_API_KEY", "OPENAI_API_KEY")

_TOKEN = re.compile(r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}|\$\{[^}\n]{0,40}\}?")


@dataclass(frozen=True, slots=True)
class Interpolated:
    """The result: the text (unset references left as written), and what went wrong."""

    value: str
    references: tuple[str, ...]  # every variable named, in order, without repeats
    missing: tuple[str, ...]  # the ones not set in the mapping
    malformed: tuple[str, ...]  # `${…` that is not a valid reference


def interpolate(text: str, environ: Mapping[str, str]) -> Interpolated:
    """Replace `${NAME}` in `text` with values from `environ`."""
    if "${" not in text:
        return Interpolated(text, (), (), ())
    references: list[str] = []
    missing: list[str] = []
    malformed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            malformed.append(token)
            return token
        if name not in references:
            references.append(name)
        value = environ.get(name)
        if value is None:
            if name not in missing:
                missing.append(name)
            return token
        return value

    value = _TOKEN.sub(replace, text)
    return Interpolated(value, tuple(references), tuple(missing), tuple(malformed))


def interpolates(parts: PathParts) -> bool:
    """True when the field at `parts` reads `${VAR}` (see VARIABLE_FIELDS)."""
    return any(
        len(parts) == len(pattern)
        and all(p == "*" or p == part for p, part in zip(pattern, parts, strict=True))
        for pattern in VARIABLE_FIELDS
    )


def literal(text: str) -> Interpolated:
    """`text` taken literally (`$${` → `${`), listing the `${…}` it holds (which are errors)."""
    if "${" not in text:
        return Interpolated(text, (), (), ())
    references: list[str] = []
    malformed: list[str] = []

    def keep(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            malformed.append(token)
        elif name not in references:
            references.append(name)
        return token

    value = _TOKEN.sub(keep, text)
    return Interpolated(value, tuple(references), (), tuple(malformed))


def key_leak(
    template: str, result: Interpolated, environ: Mapping[str, str], key_env: str
) -> str | None:
    """Why interpolating `template` (giving `result`) would put an API key into a value, or None.

    Args:
        template: the value as written in the manifest.
        result: its interpolation.
        environ: the variables.
        key_env: the variable named by `api_key_env` (KEY_VARIABLES are always keys too).
    """
    key_names = (key_env, *KEY_VARIABLES)
    keys = {v for v in (environ.get(n) for n in key_names) if v and v.strip()}
    never = "an API key never goes into a manifest value"
    for name in result.references:
        if name in key_names:
            return f"${{{name}}} cannot be used: {name} holds an API key, and {never}"
        if environ.get(name) in keys:
            return (
                f"${{{name}}} cannot be used: {name} has the same value as the API key, and {never}"
            )
    # Split across variables: only keys long enough to be real, and not in the text itself.
    if any(len(key) >= 8 and key in result.value and key not in template for key in keys):
        return f"the value would contain the API key: {never}"
    return None
