"""OpenAI-shaped failures: `OpenAIProblem` carries the HTTP status and the four fields of the
API's error body `{"error": {"message", "type", "param", "code"}}`; the helpers below build the
ones the emulator answers, with the wording of the real API where it is known.

Owns error values and messages. Must not know about HTTP plumbing or state: handlers raise these
and the app turns them into bodies.
"""

from __future__ import annotations

INVALID_REQUEST = "invalid_request_error"


class OpenAIProblem(Exception):
    """An error answer of the OpenAI API."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code

    def body(self) -> dict[str, object]:
        """The JSON error body, all four keys present."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, param: str | None = None, code: str | None = None) -> OpenAIProblem:
    """A 400 `invalid_request_error`."""
    return OpenAIProblem(400, message, param=param, code=code)


def unknown_parameter(path: str) -> OpenAIProblem:
    """A key the closed request schema does not have."""
    return bad_request(f"Unknown parameter: '{path}'.", path, "unknown_parameter")


def missing_parameter(path: str) -> OpenAIProblem:
    """A required key that was not sent."""
    return bad_request(f"Missing required parameter: '{path}'.", path, "missing_required_parameter")


def invalid_type(path: str, expected: str, value: object) -> OpenAIProblem:
    """A value of the wrong JSON type."""
    return bad_request(
        f"Invalid type for '{path}': expected {expected}, but got {json_kind(value)} instead.",
        path,
        "invalid_type",
    )


def invalid_value(path: str, value: object, allowed: tuple[str, ...]) -> OpenAIProblem:
    """A value outside an enum."""
    listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f" and '{allowed[-1]}'"
    if len(allowed) == 1:
        listed = f"'{allowed[0]}'"
    return bad_request(
        f"Invalid value: '{value}'. Supported values are: {listed}.", path, "invalid_value"
    )


def out_of_range(path: str, value: float, low: float | None, high: float | None) -> OpenAIProblem:
    """A number outside its bounds (integer or decimal)."""
    kind = "integer" if isinstance(value, int) else "decimal"
    if high is not None and value > high:
        return bad_request(
            f"Invalid '{path}': {kind} above maximum value. Expected a value <= {high}, "
            f"but got {value} instead.",
            path,
            f"{kind}_above_max_value",
        )
    return bad_request(
        f"Invalid '{path}': {kind} below minimum value. Expected a value >= {low}, "
        f"but got {value} instead.",
        path,
        f"{kind}_below_min_value",
    )


def too_long(path: str, kind: str, limit: int, got: int) -> OpenAIProblem:
    """A string, array or object over its size limit (`kind`: string/array/object)."""
    what = {"string": "a string with maximum length", "array": "an array with maximum length"}
    if kind == "object":
        return bad_request(
            f"Invalid '{path}': too many properties. Expected an object with at most {limit} "
            f"properties, but got an object with {got} properties instead.",
            path,
            "object_above_max_properties",
        )
    return bad_request(
        f"Invalid '{path}': {kind} too long. Expected {what[kind]} {limit}, but got "
        f"{'a string' if kind == 'string' else 'an array'} with length {got} instead.",
        path,
        f"{kind}_above_max_length",
    )


def too_short(path: str, kind: str, limit: int, got: int) -> OpenAIProblem:
    """An array (or string) under its minimum length."""
    if got == 0:
        return bad_request(
            f"Invalid '{path}': empty {kind}. Expected {kind} with minimum length {limit}, "
            f"but got an empty {kind} instead.",
            path,
            f"empty_{kind}",
        )
    return bad_request(
        f"Invalid '{path}': {kind} too short. Expected minimum length {limit}, "
        f"but got length {got} instead.",
        path,
        f"{kind}_below_min_length",
    )


def bad_id(param: str, value: str, prefix: str) -> OpenAIProblem:
    """A path id of the wrong kind, e.g. a `vs_…` id where a batch id belongs."""
    return bad_request(
        f"Invalid '{param}': '{value}'. Expected an ID that begins with '{prefix}'.",
        param,
        "invalid_value",
    )


def no_such_file(file_id: str) -> OpenAIProblem:
    """An unknown File."""
    return OpenAIProblem(404, f"No such File object: {file_id}", param="id")


def no_such_store(store_id: str) -> OpenAIProblem:
    """An unknown vector store."""
    return OpenAIProblem(404, f"No vector store found with id '{store_id}'.")


def no_such_store_file(store_id: str, file_id: str) -> OpenAIProblem:
    """A File that is not attached to the vector store."""
    return OpenAIProblem(404, f"No file found with id '{file_id}' in vector store '{store_id}'.")


def no_such_batch(store_id: str, batch_id: str) -> OpenAIProblem:
    """An unknown file batch of the vector store."""
    return OpenAIProblem(
        404, f"No file batch found with id '{batch_id}' in vector store '{store_id}'."
    )


def json_kind(value: object) -> str:
    """How the API names the JSON type of `value` in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
