"""Deterministic chunking and relevance for the emulated vector stores.

- Tokens: every run of word characters and every other non-space character counts as one token
  (`\\w+|[^\\w\\s]`), a stand-in for the real tokenizer that keeps sizes in the same ballpark.
- Chunks: windows of `max_chunk_size_tokens` tokens advancing by `max - overlap` tokens; a
  chunk's text is the original text from its first token to its last. An empty text has none.
- Terms: the word tokens, lower-cased (`ё` folded to `е`) and stemmed with the ElevenLabs
  side's light English/Russian stemmer; a query's terms are made the same way.
- Score of a chunk for a query: BM25 (k1 = 1.2, b = 0.75, over the chunks searched) divided
  by the best score any chunk could reach for the query's terms, `Σ idf·(k1+1)`, so it lies
  in [0, 1]; rounded to 6 decimals. A chunk sharing no term with the query scores 0 and is
  never returned.

Owns the text algorithms. Must not know about files, stores, filters or HTTP.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass

from kbctl.emulator.workspace.search import stem

_TOKEN = re.compile(r"(\w+)|[^\w\s]", re.UNICODE)


@functools.lru_cache(maxsize=65_536)
def _term(word: str) -> str:
    """The search term of one word: lower case (`ё` folded to `е`), stemmed like the ElevenLabs
    side's search (cached: a document repeats its words); "" for none."""
    return stem(word.casefold().replace("ё", "е")) if word else ""


K1 = 1.2
B = 0.75


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk of a file: its text and its (stemmed) term counts."""

    index: int
    text: str
    terms: Counter[str]

    @property
    def length(self) -> int:
        """Number of terms (the BM25 document length)."""
        return sum(self.terms.values())


def count_tokens(text: str) -> int:
    """Tokens of `text` as chunk sizes count them."""
    return sum(1 for _ in _TOKEN.finditer(text))


def chunk(text: str, max_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """`text` cut into overlapping windows of tokens (see the module docstring)."""
    tokens = list(_TOKEN.finditer(text))
    terms = [_term(m.group(1) or "") for m in tokens]  # "" for punctuation
    step = max(1, max_tokens - overlap_tokens)
    chunks: list[Chunk] = []
    start = 0
    while start < len(tokens):
        end = min(start + max_tokens, len(tokens))
        piece = text[tokens[start].start() : tokens[end - 1].end()]
        counts = Counter(terms[start:end])
        counts.pop("", None)
        chunks.append(Chunk(len(chunks), piece, counts))
        if end == len(tokens):
            break
        start += step
    return chunks


def query_terms(query: str) -> set[str]:
    """The distinct search terms of a query, made exactly as a chunk's are."""
    return {_term(m.group(1)) for m in _TOKEN.finditer(query) if m.group(1)}


def score_chunks(query: str, chunks: list[Chunk]) -> list[float]:
    """The normalised BM25 score of each chunk for `query` (same order as `chunks`)."""
    terms = query_terms(query)
    if not terms or not chunks:
        return [0.0] * len(chunks)
    n = len(chunks)
    avg = sum(c.length for c in chunks) / n or 1.0
    idf = {}
    for term in terms:
        df = sum(1 for c in chunks if term in c.terms)
        idf[term] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
    best = sum(idf.values()) * (K1 + 1.0)
    scores = []
    for c in chunks:
        norm = K1 * (1.0 - B + B * c.length / avg)
        total = 0.0
        for term in terms:
            tf = c.terms.get(term, 0)
            if tf:
                total += idf[term] * tf * (K1 + 1.0) / (tf + norm)
        scores.append(round(min(1.0, total / best), 6) if best > 0 else 0.0)
    return scores
