"""`${VAR}` interpolation of manifest strings from a given environment mapping.

Owns the syntax: `${NAME}` (NAME = letters, digits, `_`, not starting with a digit) is replaced
by the variable's value; `$${` is a literal `${`; any other `${…` is malformed. It never reads
`os.environ`: the caller passes the mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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
