"""Reading API answers: the provider's policy for `kbctl.jsonread`, and the one place a misshaped
answer becomes a `ProtocolError`.

`answer(data)` gives the answer as a `JsonObj`: absent and `null` fields are the same thing here
(the APIs omit unset fields and sometimes send `null`), and an integer may come as `3.0`. A field
that is missing or of the wrong type raises `ShapeError`, naming its path in the answer
(`answer.documents[3].metadata.size_bytes: expected an integer, got 'big'`); `ShapeError` is
internal: `reading(method, path)` around the parsing turns it into a `ProtocolError` naming the
request. Must not send requests or know what a field means.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from kbctl.errors import ProtocolError
from kbctl.jsonread import JsonObj, JsonReader


class ShapeError(Exception):
    """A JSON answer does not have the shape kbctl expects."""


#: The provider's reader: absent is null, `3.0` is an integer, a problem is a `ShapeError`.
WIRE: Final = JsonReader(ShapeError, integral_floats=True)


def answer(data: object, where: str = "answer") -> JsonObj:
    """An answer (or a part of one, at `where`) that must be a JSON object."""
    return WIRE.root(data, where)


@contextmanager
def reading(
    method: str, path: str, *, service: str = "API", after: str = "Nothing was written."
) -> Iterator[None]:
    """Turn a `ShapeError` raised while reading an answer into a `ProtocolError`; `after` says
    what the failed request leaves behind."""
    try:
        yield
    except ShapeError as exc:
        raise ProtocolError(
            f"The {service} sent an answer kbctl cannot read",
            method=method,
            path=path,
            detail=f"{method} {path}: {exc}",
            hint=" ".join(
                filter(
                    None,
                    [
                        "The API may have changed; check for a newer kbctl, or re-run "
                        "with --debug.",
                        after,
                    ],
                )
            ),
        ) from None
