"""Documents from disk, inline text and URLs: expansion of globs, reading, typing and hashing.

Owns: which file extensions are documents and of which type, glob semantics (relative to the
manifest's directory, sorted by key, hidden files skipped, `**` recursive), the default keys
(posix paths relative to the manifest's directory, whatever the OS or cwd), UTF-8 checks of text
files, empty documents, and the content hash (through `kbctl.identity`). Each file is read
exactly once, through `containment` (never outside the repository).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import PurePath
from urllib.parse import urlsplit

from kbctl.identity import canonical_text, canonical_text_bytes, content_hash
from kbctl.manifest.containment import RefusedPath, is_inside, read_contained
from kbctl.manifest.decl import Loaded, Loc, SourceKind, Where
from kbctl.manifest.globbing import contained_glob, split_pattern
from kbctl.model import DocType

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
FILE_SUFFIXES = (".pdf", ".docx", ".html", ".htm", ".epub")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + FILE_SUFFIXES

#: Sidecar metadata files beside documents are never documents themselves (see `sidecars`).
SIDECAR_SUFFIX = ".metadata.yaml"
#: Characters that do not make a text non-empty (BOM, zero-width space/joiners, word joiner).
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"

#: Makes a diagnostic at a location (the manifest's file name is bound in).
Report = Callable[[Loc, str], None]


def expand(
    kind: SourceKind,
    pattern: str,
    where: Where,
    loc: Loc,
    report: Report,
    exclude: tuple[tuple[str, Loc], ...] = (),
) -> tuple[Loaded, ...]:
    """Read the documents a `glob` or `file` declaration names; problems go to `report`.

    Args:
        kind: GLOB or FILE.
        pattern: the glob or file path (never interpolated).
        where: the manifest's directory and the repository boundary.
        loc: the declaration's location (for diagnostics).
        report: receives every problem.
        exclude: a glob's `exclude` patterns with their locations; a pattern that names a
            directory leaves out everything below it.
    """
    field_loc = Loc(loc.line, f"{loc.path}.{kind.value}")
    if _absolute(pattern):
        report(field_loc, f"'{pattern}' must be a path relative to the manifest's directory")
        return ()
    if kind is SourceKind.FILE:
        loaded = read_document(where, _normal_key(pattern), field_loc, report)
        return () if loaded is None else (loaded,)
    matches = glob_keys(pattern, where, field_loc, report)
    if matches is None:
        return ()
    if not matches:
        report(field_loc, f"glob '{pattern}' matches no files (relative to {where.shown_dir})")
        return ()
    excluded = _excluded(exclude, where, report)
    kept = [key for key in matches if not _is_excluded(key, excluded)]
    if not kept:
        report(field_loc, f"glob '{pattern}' matches no files once 'exclude' is applied")
        return ()
    out: list[Loaded] = []
    for key in kept:
        loaded = read_document(where, key, field_loc, report)
        if loaded is not None:
            out.append(loaded)
    return tuple(out)


def _absolute(pattern: str) -> bool:
    return PurePath(pattern).is_absolute() or pattern.startswith(("/", "\\"))


def _excluded(
    patterns: tuple[tuple[str, Loc], ...], where: Where, report: Report
) -> frozenset[str]:
    """Every path (file or directory) the `exclude` patterns match."""
    out: set[str] = set()
    for pattern, loc in patterns:
        if _absolute(pattern):
            report(loc, f"'{pattern}' must be a path relative to the manifest's directory")
            continue
        found = glob_keys(pattern, where, loc, report, files_only=False)
        out.update(found or ())
    return frozenset(out)


def _is_excluded(key: str, excluded: frozenset[str]) -> bool:
    """True when `key` or one of its parent directories is excluded."""
    if not excluded:
        return False
    parts = key.split("/")
    return any("/".join(parts[:n]) in excluded for n in range(1, len(parts) + 1))


def glob_keys(
    pattern: str, where: Where, loc: Loc, report: Report, *, files_only: bool = True
) -> list[str] | None:
    """The sorted keys of what `pattern` matches (directories left out when `files_only`);
    None when the pattern reaches outside the repository.

    A pattern whose fixed part (before the first wildcard) leaves the repository is refused
    before anything is listed; the walk never enters a directory outside it (`globbing`), and
    matched files that escape through symlinks are refused when read.
    """
    fixed, _ = split_pattern(pattern)
    if not is_inside(os.path.realpath(os.path.join(where.base_dir, *fixed)), where.root):
        report(
            loc,
            f"glob '{pattern}' reaches outside the repository: documents must be files inside it",
        )
        return None
    found, escapes = contained_glob(pattern, where.base_dir, where.root, files_only=files_only)
    for folder in escapes:
        report(
            loc,
            f"glob '{pattern}' does not enter {_normal_key(folder)}: it resolves outside the "
            "repository (symlinks are followed)",
        )
    return sorted(
        {_normal_key(rel) for rel in found if not (files_only and rel.endswith(SIDECAR_SUFFIX))}
    )


def read_document(where: Where, key: str, loc: Loc, report: Report) -> Loaded | None:
    """Read one file (key = its posix path relative to the manifest's directory) as a document.

    The path is checked before anything is opened: inside the repository once symlinks are
    resolved, not inside `.git`, a regular file.
    """
    suffix = os.path.splitext(key)[1].lower()
    if suffix not in SUPPORTED_SUFFIXES:
        report(
            loc,
            f"unsupported file type '{suffix or key}' ({key}); supported: "
            + ", ".join(SUPPORTED_SUFFIXES),
        )
        return None
    try:
        raw = read_contained(where.root, os.path.join(where.base_dir, key))
    except RefusedPath as refused:
        report(loc, f"{key} {refused}: documents must be regular files inside the repository")
        return None
    except FileNotFoundError:
        report(loc, f"file not found: {key} (relative to {where.shown_dir})")
        return None
    except IsADirectoryError:
        report(loc, f"{key} is a directory, not a file")
        return None
    except OSError as err:
        report(loc, f"cannot read {key}: {err.strerror or err}")
        return None
    if suffix in FILE_SUFFIXES:
        if not raw:
            report(loc, f"{key} is empty: an empty document cannot be uploaded")
            return None
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
    if is_blank(content):
        report(loc, f"{key} {blank_reason(raw)}: an empty document cannot be uploaded")
        return None
    return Loaded(key, DocType.TEXT, content, content_hash(DocType.TEXT, content))


def is_blank(content: bytes) -> bool:
    """True when canonical text has no visible character (only whitespace, BOMs, zero-widths)."""
    return not content.decode("utf-8").strip().strip(_INVISIBLE).strip()


def blank_reason(raw: bytes) -> str:
    """How a blank text reads to a person: empty, BOM only, or whitespace only."""
    if not raw:
        return "is empty"
    if not raw.replace(b"\xef\xbb\xbf", b""):
        return "holds only a byte-order mark"
    return "holds only whitespace"


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


def shown_dir(file: str) -> str:
    """The manifest's directory as the user would write it (`manifests`, or `.`)."""
    parent = file.replace("\\", "/").rpartition("/")[0]
    return parent or "."
