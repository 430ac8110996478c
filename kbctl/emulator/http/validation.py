"""FastAPI/pydantic-style input validation: collects every problem, then answers one 422 with
`{"detail": [{"type", "loc", "msg", "input"}, ...]}` as the real API does.

Owns the checks on JSON bodies, form fields and query strings. Must not know about routes, state
or the meaning of the fields it checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kbctl.emulator.workspace.errors import Unprocessable
from kbctl.emulator.workspace.records import Json

Loc = tuple[str | int, ...]
_MISSING = object()

_BOOL_WORDS = {
    "true": True, "1": True, "yes": True, "on": True, "t": True, "y": True,
    "false": False, "0": False, "no": False, "off": False, "f": False, "n": False,
}  # fmt: skip


class Checker:
    """Collects validation errors; `done()` raises `Unprocessable` if there were any.

    Body helpers read `obj[key]`; a missing key or JSON `null` counts as absent (the SDK omits
    unset fields and sends explicit `None` as `null`). Query helpers parse strings, as FastAPI's
    lax mode does.
    """

    def __init__(self) -> None:
        self.errors: list[Json] = []

    # ------------------------------------------------------------------ bookkeeping
    def fail(self, loc: Loc, type_: str, msg: str, value: object = _MISSING) -> None:
        """Record one problem."""
        err: Json = {"type": type_, "loc": list(loc), "msg": msg}
        if value is not _MISSING:
            err["input"] = value
        self.errors.append(err)

    def done(self) -> None:
        """Raise the 422 if anything failed."""
        if self.errors:
            raise Unprocessable(self.errors)

    def _get(self, obj: Mapping[str, object], key: str, loc: Loc, required: bool) -> object:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail((*loc, key), "missing", "Field required", dict(obj))
            return _MISSING
        return value

    # ------------------------------------------------------------------ JSON body / form values
    def string(
        self,
        obj: Mapping[str, object],
        key: str,
        loc: Loc,
        *,
        required: bool = False,
        min_length: int | None = None,
    ) -> str | None:
        """A string field."""
        value = self._get(obj, key, loc, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail((*loc, key), "string_type", "Input should be a valid string", value)
            return None
        if min_length is not None and len(value) < min_length:
            self.fail(
                (*loc, key),
                "string_too_short",
                f"String should have at least {min_length} character"
                + ("s" if min_length != 1 else ""),
                value,
            )
            return None
        return value

    def boolean(
        self, obj: Mapping[str, object], key: str, loc: Loc, *, required: bool = False
    ) -> bool | None:
        """A boolean field (also accepts the strings pydantic accepts, for form fields)."""
        value = self._get(obj, key, loc, required)
        if value is _MISSING:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.strip().lower()]
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        self.fail((*loc, key), "bool_type", "Input should be a valid boolean", value)
        return None

    def number(
        self,
        obj: Mapping[str, object],
        key: str,
        loc: Loc,
        *,
        required: bool = False,
        integer: bool = False,
        ge: float | None = None,
        le: float | None = None,
        gt: float | None = None,
        lt: float | None = None,
    ) -> float | None:
        """An int (`integer=True`) or float field with optional bounds."""
        value = self._get(obj, key, loc, required)
        if value is _MISSING:
            return None
        parsed: float | None = None
        if isinstance(value, bool):
            parsed = None
        elif isinstance(value, int):
            parsed = float(value)
        elif isinstance(value, float) and (not integer or value.is_integer()):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = float(int(value)) if integer else float(value)
            except ValueError:
                if integer:
                    msg = "Input should be a valid integer, unable to parse string as an integer"
                    self.fail((*loc, key), "int_parsing", msg, value)
                else:
                    msg = "Input should be a valid number, unable to parse string as a number"
                    self.fail((*loc, key), "float_parsing", msg, value)
                return None
        if parsed is None:
            if integer:
                self.fail((*loc, key), "int_type", "Input should be a valid integer", value)
            else:
                self.fail((*loc, key), "float_type", "Input should be a valid number", value)
            return None
        checks = (
            (ge, ge is not None and parsed < ge, "greater_than_equal", "greater than or equal to"),
            (le, le is not None and parsed > le, "less_than_equal", "less than or equal to"),
            (gt, gt is not None and parsed <= gt, "greater_than", "greater than"),
            (lt, lt is not None and parsed >= lt, "less_than", "less than"),
        )
        for bound, broken, kind, words in checks:
            if broken and bound is not None:
                shown = int(bound) if float(bound).is_integer() else bound
                self.fail((*loc, key), kind, f"Input should be {words} {shown}", value)
                return None
        return parsed

    def integer(
        self,
        obj: Mapping[str, object],
        key: str,
        loc: Loc,
        *,
        required: bool = False,
        ge: int | None = None,
        le: int | None = None,
    ) -> int | None:
        """An integer field with optional inclusive bounds."""
        value = self.number(obj, key, loc, required=required, integer=True, ge=ge, le=le)
        return None if value is None else int(value)

    def choice(
        self,
        obj: Mapping[str, object],
        key: str,
        loc: Loc,
        values: Sequence[str],
        *,
        required: bool = False,
    ) -> str | None:
        """A string enum field."""
        value = self._get(obj, key, loc, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str) or value not in values:
            self.enum_error((*loc, key), values, value)
            return None
        return value

    def enum_error(self, loc: Loc, values: Sequence[str], value: object) -> None:
        """Record a bad enum value."""
        quoted = [f"'{v}'" for v in values]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        self.fail(loc, "enum", f"Input should be {listed}", value)

    def obj(
        self, obj: Mapping[str, object], key: str, loc: Loc, *, required: bool = False
    ) -> Json | None:
        """A JSON-object field."""
        value = self._get(obj, key, loc, required)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.fail((*loc, key), "dict_type", "Input should be a valid dictionary", value)
            return None
        return value

    def array(
        self, obj: Mapping[str, object], key: str, loc: Loc, *, required: bool = False
    ) -> list[object] | None:
        """A JSON-array field."""
        value = self._get(obj, key, loc, required)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.fail((*loc, key), "list_type", "Input should be a valid list", value)
            return None
        return value

    def strings(
        self, obj: Mapping[str, object], key: str, loc: Loc, *, required: bool = False
    ) -> list[str] | None:
        """A list of strings."""
        items = self.array(obj, key, loc, required=required)
        if items is None:
            return None
        out: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, str):
                out.append(item)
            else:
                self.fail((*loc, key, i), "string_type", "Input should be a valid string", item)
        return out

    # ------------------------------------------------------------------ query strings
    def query_choices(
        self, query: Mapping[str, list[str]], key: str, values: Sequence[str]
    ) -> list[str]:
        """A repeated enum query parameter (`?types=text&types=url`)."""
        out: list[str] = []
        for i, value in enumerate(query.get(key, [])):
            if value in values:
                out.append(value)
            else:
                self.enum_error(("query", key, i), values, value)
        return out


def query_view(query: Mapping[str, list[str]]) -> dict[str, object]:
    """The last value of every query parameter (what FastAPI binds to a scalar parameter)."""
    return {key: values[-1] for key, values in query.items() if values}


def body_object(body: object, ck: Checker) -> Json:
    """The request body as a JSON object, or a 422 entry saying it is not one."""
    if isinstance(body, dict):
        return body
    if body is None:
        ck.fail(("body",), "missing", "Field required", None)
    else:
        ck.fail(
            ("body",),
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
            body,
        )
    ck.done()
    return {}
