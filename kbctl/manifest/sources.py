"""Documents from disk, inline text and URLs: expansion of globs, reading, typing and hashing.

Owns: which file extensions are documents and of which type, glob semantics (relative to the
manifest's directory, sorted by key, hidden files skipped, `**` recursive), the default keys
(posix paths relative to the manifest's directory, whatever the OS or cwd), UTF-8 checks of text
files, and the content hash (through `kbctl.identity`). Each file is read exactly once.
"""

from __future__ import annotations

import glob as globlib
import os
from collections.abc import Callable
from pathlib import Path, PurePath
from urllib.parse import urlsplit

from kbctl.identity import canonical_text, canonical_text_bytes, content_hash
from kbctl.manifest.decl import Loaded, Loc, SourceKind
from kbctl.model import DocType

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
FILE_SUFFIXES = (".pdf", ".docx", ".html", ".htm", ".epub")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + FILE_SUFFIXES

#: Makes a diagnostic at a location (the manifest's file name is bound in).
Report = Callable[[Loc, str], None]


def expand(
    kind: SourceKind, pattern: str, base_dir: Path, shown_dir: str, loc: Loc, report: Report
) -> tuple[Loaded, ...]:
    """Read the documents a `glob` or `file` declaration names; problems go to `report`.

    Args:
        kind: GLOB or FILE.
        pattern: the glob or file path, interpolated.
        base_dir: the manifest's directory (paths resolve against it).
        shown_dir: that directory as the user gave it, for messages.
        loc: the declaration's location (for diagnostics).
        report: receives every problem.
    """
    field_loc = Loc(loc.line, f"{loc.path}.{kind.value}")
    if PurePath(pattern).is_absolute() or pattern.startswith(("/", "\\")):
        report(field_loc, f"'{pattern}' must be a path relative to the manifest's directory")
        return ()
    if kind is SourceKind.FILE:
        loaded = read_document(base_dir, _normal_key(pattern), field_loc, report, shown_dir)
        return () if loaded is None else (loaded,)
    root = os.fspath(base_dir)
    matches = sorted(
        {
            _normal_key(rel)
            for rel in globlib.glob(pattern, root_dir=root, recursive=True)
            if os.path.isfile(os.path.join(root, rel))
        }
    )
    if not matches:
        report(field_loc, f"glob '{pattern}' matches no files (relative to {shown_dir})")
        return ()
    out: list[Loaded] = []
    for key in matches:
        loaded = read_document(base_dir, key, field_loc, report, shown_dir)
        if loaded is not None:
            out.append(loaded)
    return tuple(out)


def read_document(
    base_dir: Path, key: str, loc: Loc, report: Report, shown_dir: str = "."
) -> Loaded | None:
    """Read one file (key = its posix path relative to `base_dir`) as a document."""
    suffix = os.path.splitext(key)[1].lower()
    if suffix not in SUPPORTED_SUFFIXES:
        report(
            loc,
            f"unsupported file type '{suffix or key}' ({key}); supported: "
            + ", ".join(SUPPORTED_SUFFIXES),
        )
        return None
    try:
        with open(os.path.join(base_dir, key), "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        report(loc, f"file not found: {key} (relative to {shown_dir})")
        return None
    except IsADirectoryError:
        report(loc, f"{key} is a directory, not a file")
        return None
    except OSError as err:
        report(loc, f"cannot read {key}: {err.strerror or err}")
        return None
    if suffix in FILE_SUFFIXES:
        return Loaded(
            key, DocType.FILE, raw, content_hash(DocType.FILE, raw), key.rpartition("/")[2]
        )
    try:
        content = canonical_text_bytes(raw)
    except UnicodeDecodeError as err:
        report(
            loc,
            f"{key} is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}); "
            "save it as UTF-8",
        )
        return None
    if b"\0" in content:
        report(loc, f"{key} looks binary (it contains NUL bytes), not like text")
        return None
    return Loaded(key, DocType.TEXT, content, content_hash(DocType.TEXT, content))


def text_document(key: str, text: str) -> Loaded:
    """An inline `text:` document."""
    content = canonical_text(text)
    return Loaded(key, DocType.TEXT, content, content_hash(DocType.TEXT, content))


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a URL document, or None when it can."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"'{url}' is not an http(s) URL"
    if any(ch.isspace() for ch in url):
        return f"'{url}' contains whitespace"
    return None


def url_document(url: str) -> Loaded:
    """A `url:` document: its content is the URL itself."""
    content = url.encode("utf-8")
    return Loaded(url, DocType.URL, content, content_hash(DocType.URL, content))


def _normal_key(rel: str) -> str:
    """A relative path as a key: normalised, posix separators (`./a//b` → `a/b`)."""
    normal = os.path.normpath(rel)
    return normal.replace(os.sep, "/") if os.sep != "/" else normal
