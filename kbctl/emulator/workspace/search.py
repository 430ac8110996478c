"""Full-text relevance for the content-search endpoint: a Unicode-aware word tokenizer (Latin,
Cyrillic, any script `\\w` knows), a light suffix-stripping stemmer for English and Russian,
an incremental BM25 index, search snippets and RAG chunking.

Owns text algorithms only. Must not know about documents' other fields, HTTP or locking: the
caller (the world, under its lock) feeds it `(id, text)` pairs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable

_WORD = re.compile(r"\w+", re.UNICODE)

# Noun and adjective case endings only (verb endings such as -ет would eat "привет"). Longest
# first, so "ами" wins over "и". Only stripped when at least 4 characters remain.
_RU_SUFFIXES = sorted(
    (
        "ями", "ами", "ого", "его", "ому", "ему", "ыми", "ими", "ией", "иям", "иях",
        "ах", "ях", "ов", "ев", "ей", "ой", "ий", "ый", "ая", "яя", "ое", "ее", "ие", "ые",
        "ую", "юю", "ом", "ем", "ам", "ям", "ых", "их", "ью",
        "а", "я", "о", "е", "ы", "и", "у", "ю", "ь",
    ),
    key=len,
    reverse=True,
)  # fmt: skip
_EN_SUFFIXES = ("ies", "ing", "ed", "es", "s", "'s")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def stem(token: str) -> str:
    """A conservative stem: common English and Russian endings off, keeping >= 4 characters."""
    if _CYRILLIC.search(token):
        for suffix in _RU_SUFFIXES:
            if token.endswith(suffix) and len(token) - len(suffix) >= 4:
                return token[: -len(suffix)]
        return token
    for suffix in _EN_SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            base = token[: -len(suffix)]
            return base + "y" if suffix == "ies" else base
    return token


def tokenize(text: str) -> list[str]:
    """Lower-cased words of `text` (`ё` folded to `е`), stemmed."""
    folded = text.casefold().replace("ё", "е")
    return [stem(w) for w in _WORD.findall(folded)]


class Bm25Index:
    """Okapi BM25 over documents added by id; re-adding an id replaces it. Not thread-safe."""

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, dict[str, int]] = {}
        self._lengths: dict[str, int] = {}
        self._terms: dict[str, Counter[str]] = {}
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._lengths

    def add(self, doc_id: str, text: str) -> None:
        """Index `text` under `doc_id` (replacing what was there)."""
        self.remove(doc_id)
        counts = Counter(tokenize(text))
        self._terms[doc_id] = counts
        length = sum(counts.values())
        self._lengths[doc_id] = length
        self._total_length += length
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[doc_id] = tf

    def remove(self, doc_id: str) -> None:
        """Forget `doc_id` (no-op if unknown)."""
        counts = self._terms.pop(doc_id, None)
        if counts is None:
            return
        self._total_length -= self._lengths.pop(doc_id)
        for term in counts:
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(doc_id, None)
                if not posting:
                    del self._postings[term]

    def search(
        self, query: str, allowed: Callable[[str], bool] | None = None
    ) -> list[tuple[str, float]]:
        """`(doc_id, score)` of every document matching at least one query term, best first;
        ties keep ascending id order."""
        n = len(self._lengths)
        if n == 0:
            return []
        avg = self._total_length / n or 1.0
        scores: dict[str, float] = {}
        for term in set(tokenize(query)):
            posting = self._postings.get(term)
            if not posting:
                continue
            df = len(posting)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            for doc_id, tf in posting.items():
                if allowed is not None and not allowed(doc_id):
                    continue
                norm = self.k1 * (1.0 - self.b + self.b * self._lengths[doc_id] / avg)
                scores[doc_id] = scores.get(doc_id, 0.0) + idf * tf * (self.k1 + 1.0) / (tf + norm)
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def snippet(text: str, query: str, width: int = 24) -> list[dict[str, object]]:
    """About `width` words of `text` around the first query hit, as `[{value, is_hit}]` runs."""
    wanted = set(tokenize(query))
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not spans:
        return []
    hits = [
        i
        for i, (s, e) in enumerate(spans)
        if stem(text[s:e].casefold().replace("ё", "е")) in wanted
    ]
    first = hits[0] if hits else 0
    lo = max(0, first - width // 3)
    hi = min(len(spans), lo + width)
    start, end = spans[lo][0], spans[hi - 1][1]
    hit_set = set(hits)
    runs: list[dict[str, object]] = []
    pos = start
    for i in range(lo, hi):
        s, e = spans[i]
        if i in hit_set:
            if s > pos:
                runs.append({"value": text[pos:s], "is_hit": False})
            runs.append({"value": text[s:e], "is_hit": True})
            pos = e
    if end > pos:
        runs.append({"value": text[pos:end], "is_hit": False})
    return runs


def chunk_text(text: str, target: int = 1000) -> list[str]:
    """Split `text` into chunks of about `target` characters at paragraph or word boundaries."""
    chunks: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        while len(paragraph) > target:
            cut = paragraph.rfind(" ", 0, target)
            cut = cut if cut > target // 2 else target
            piece, paragraph = paragraph[:cut].strip(), paragraph[cut:].strip()
            if current:
                chunks.append(current)
                current = ""
            chunks.append(piece)
        if current and len(current) + len(paragraph) + 2 > target:
            chunks.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        chunks.append(current)
    return chunks
