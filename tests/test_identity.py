"""Content hashing and the ownership marker."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kbctl.identity import (
    canonical_text,
    content_hash,
    document_name,
    owned,
    owned_name,
    parse_marker,
)
from kbctl.model import DocType, Marker

# A leading BOM is stripped once: texts that begin with one themselves are a different case.
texts = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\ufeff"))


@given(texts)
def test_hash_is_stable_under_line_ends_and_bom(text: str) -> None:
    lf = canonical_text(text)
    crlf = canonical_text(text.replace("\n", "\r\n"))
    bom = canonical_text("\ufeff" + text)
    assert lf == crlf == bom
    assert content_hash(DocType.TEXT, lf) == content_hash(DocType.TEXT, crlf)


@given(texts, texts)
def test_hash_differs_for_real_changes(a: str, b: str) -> None:
    ca, cb = canonical_text(a), canonical_text(b)
    if ca != cb:
        assert content_hash(DocType.TEXT, ca) != content_hash(DocType.TEXT, cb)


def test_hash_includes_document_type() -> None:
    assert content_hash(DocType.TEXT, b"x") != content_hash(DocType.FILE, b"x")


def test_marker_round_trips() -> None:
    h = content_hash(DocType.TEXT, b"hello")
    name = document_name("quarters/q1.md", "birby-quarters", "staging", h)
    assert name == f"quarters/q1.md · kbctl:birby-quarters/staging · {h[:12]}"
    assert parse_marker(name) == Marker("quarters/q1.md", "birby-quarters", "staging", h[:12])


@given(
    st.text(min_size=1).filter(lambda s: s.strip() == s and s),
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
)
def test_marker_round_trips_any_key(key: str, project: str) -> None:
    h = content_hash(DocType.TEXT, key.encode())
    marker = parse_marker(document_name(key, project, "production", h))
    assert marker is not None
    assert (marker.key, marker.project, marker.environment) == (key, project, "production")


def test_names_without_marker_are_unmanaged() -> None:
    assert parse_marker("Price list 2026") is None
    assert parse_marker("x · kbctl:Bad_Project/staging · 0123456789ab") is None


def test_ownership_is_project_and_environment_together() -> None:
    name = document_name("docs/a.md", "birby", "staging", "3f2a9c1e0b7d" * 2)
    assert owned_name(name, "birby", "staging") is not None
    assert owned_name(name, "birby", "production") is None  # another environment's
    assert owned_name(name, "other", "staging") is None  # another project's
    assert owned_name("hand-made FAQ", "birby", "staging") is None
    assert owned(None, "birby", "staging") is None
