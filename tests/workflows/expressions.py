"""A small evaluator for the GitHub Actions `${{ }}` expression language (the subset kbctl's
workflows use): contexts with case-insensitive property access, literals, `!`, comparisons,
`&&`/`||` (returning an operand, as in GitHub), parentheses, status functions and a few helpers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>-?\d+(?:\.\d+)?)
  | (?P<str>'(?:[^']|'')*')
  | (?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,])
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<star>\*)
)""",
    re.VERBOSE,
)

_STATUS = re.compile(r"\b(success|failure|cancelled|always)\s*\(")


class _Filtered(list[object]):
    """The result of `x.*`: property access maps over its items, as in GitHub."""


class ExpressionError(ValueError):
    """An expression the evaluator does not understand."""


@dataclass
class Status:
    """What the status functions answer."""

    failed: bool = False
    cancelled: bool = False
    skipped_needs: bool = False  # a job's dependency was skipped: success() is false


@dataclass
class Context:
    """The contexts an expression can read (github, inputs, env, steps, …)."""

    values: dict[str, Any] = field(default_factory=dict)
    status: Status = field(default_factory=Status)

    def lookup(self, name: str) -> Any:
        return get_property(self.values, name)


def get_property(obj: Any, name: str) -> Any:
    """`obj.name`, case-insensitively; null when missing."""
    if isinstance(obj, Mapping):
        if name in obj:
            return obj[name]
        lowered = name.lower()
        for key, value in obj.items():
            if isinstance(key, str) and key.lower() == lowered:
                return value
    return None


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"cannot parse {text[pos:]!r} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if value.strip() == "":
            return 0.0
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b):
        return bool(a == b)
    return _number(a) == _number(b)


def to_string(value: Any) -> str:
    """How GitHub turns a value into text (in `with:`, `env:` and interpolation)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


class _Parser:
    def __init__(self, text: str, ctx: Context) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.ctx = ctx
        self.text = text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value!r} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.eq()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.eq()
            value = right if truthy(value) else value
        return value

    def eq(self) -> Any:
        value = self.cmp()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.cmp()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def cmp(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "<"), ("op", ">"), ("op", "<="), ("op", ">=")):
            op = self.take()[1]
            a, b = _number(value), _number(self.unary())
            value = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while True:
            token = self.peek()
            if token == ("op", "."):
                self.take()
                name = self.take()
                if name[0] == "star":
                    items = value.values() if isinstance(value, Mapping) else value
                    value = _Filtered(items if isinstance(items, (list, type({}.values()))) else [])
                    continue
                if name[0] not in ("name", "num"):
                    raise ExpressionError(f"bad property in {self.text!r}")
                if isinstance(value, _Filtered):
                    value = _Filtered(
                        v for v in (get_property(item, name[1]) for item in value) if v is not None
                    )
                else:
                    value = get_property(value, name[1])
            elif token == ("op", "["):
                self.take()
                index = self.or_()
                self.take("]")
                if isinstance(value, list) and isinstance(index, (int, float)):
                    i = int(index)
                    value = value[i] if 0 <= i < len(value) else None
                else:
                    value = get_property(value, to_string(index))
            else:
                return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            number = float(text)
            return int(number) if number.is_integer() else number
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if (kind, text) == ("op", "("):
            value = self.or_()
            self.take(")")
            return value
        if kind == "name":
            low = text.lower()
            if low in ("true", "false"):
                return low == "true"
            if low == "null":
                return None
            if self.peek() == ("op", "("):
                self.take()
                args: list[Any] = []
                while self.peek() != ("op", ")"):
                    args.append(self.or_())
                    if self.peek() == ("op", ","):
                        self.take()
                self.take(")")
                return self.call(low, args)
            return self.ctx.lookup(text)
        raise ExpressionError(f"unexpected {text!r} in {self.text!r}")

    def call(self, name: str, args: list[Any]) -> Any:
        status = self.ctx.status
        functions: dict[str, Callable[..., Any]] = {
            "success": lambda: not (status.failed or status.cancelled or status.skipped_needs),
            "failure": lambda: status.failed,
            "cancelled": lambda: status.cancelled,
            "always": lambda: True,
            "contains": lambda hay, needle: (
                any(_equal(item, needle) for item in hay)
                if isinstance(hay, list)
                else to_string(needle).lower() in to_string(hay).lower()
            ),
            "startswith": lambda s, p: to_string(s).lower().startswith(to_string(p).lower()),
            "endswith": lambda s, p: to_string(s).lower().endswith(to_string(p).lower()),
            "format": lambda fmt, *rest: re.sub(
                r"\{(\d+)\}", lambda m: to_string(rest[int(m.group(1))]), to_string(fmt)
            ),
            "tojson": lambda value: json.dumps(value, indent=2),
            "fromjson": lambda text: json.loads(to_string(text)),
            "hashfiles": lambda *patterns: "",
        }
        if name not in functions:
            raise ExpressionError(f"unknown function {name}()")
        return functions[name](*args)


def evaluate(expression: str, ctx: Context) -> Any:
    """The value of one expression (without the `${{ }}`)."""
    return _Parser(expression, ctx).parse()


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def interpolate(value: Any, ctx: Context) -> Any:
    """A `with:`/`env:`/`name:` value: a lone `${{ x }}` keeps its type, else text."""
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    whole = _TEMPLATE.fullmatch(stripped)
    if whole is not None:
        return evaluate(whole.group(1), ctx)
    return _TEMPLATE.sub(lambda m: to_string(evaluate(m.group(1), ctx)), value)


def condition(value: Any, ctx: Context) -> bool:
    """An `if:` condition; without a status function it means `success() && (…)`."""
    if value is None:
        return truthy(evaluate("success()", ctx))
    if isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value).strip()
    whole = _TEMPLATE.fullmatch(text)
    if whole is not None:
        text = whole.group(1).strip()
    if not _STATUS.search(text):
        text = f"success() && ({text})"
    return truthy(evaluate(text, ctx))
