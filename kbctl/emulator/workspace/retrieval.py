"""The agent's own retrieval (`POST /v1/convai/agents/{id}/knowledge-base/rag-query`): the chunks
an agent (or one of its branches) would retrieve for a query, ranked, with a vector distance.

Ranking is deterministic and lexical, so it works for any language `\\w` knows: a query word
found in a chunk (same stem, `search.tokenize`) counts fully; otherwise its closest word in the
chunk counts by character-trigram similarity when that is at least 0.5. Words weigh by IDF over
the candidate chunks (a word in none of them weighs little: it cannot tell chunks apart).
`vector_distance` = 0.8 x (1 - the weighted share of the query found), in [0, 0.8]: a chunk
holding every query word is at 0, one holding none at 0.8 (beyond the default
`max_vector_distance` of 0.6). Ties: by document order in the agent's knowledge base, then
chunk order.

Owns candidate selection (documents attached to that branch's head, folders expanded, with a
succeeded index for the agent's embedding model), the ranking and the limits. Must not parse
requests or change anything; each method takes the lock.
"""

from __future__ import annotations

import math
from functools import lru_cache

from kbctl.emulator.workspace.agent_config import RAG_DEFAULTS, all_locators, rag_of
from kbctl.emulator.workspace.index_attempts import IndexAttempts
from kbctl.emulator.workspace.records import Document, Json
from kbctl.emulator.workspace.search import tokenize

_NEAR = 0.5
#: The distance of a chunk sharing no word with the query: past the API's default
#: `max_vector_distance` (0.6), so a chunk must hold over a quarter of the query to be kept.
_FAR = 0.8
#: The weight of a query word no candidate chunk holds ("how", "is"…): it cannot tell chunks
#: apart, so it only dilutes the share a little, as such words barely move an embedding.
_ABSENT_WEIGHT = 0.2


@lru_cache(maxsize=65536)
def _trigrams(word: str) -> frozenset[str]:
    padded = f"  {word} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def _similarity(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@lru_cache(maxsize=65536)
def _terms(text: str) -> frozenset[str]:
    """The stemmed words of a chunk (cached: chunks do not change once cut)."""
    return frozenset(tokenize(text))


class _Candidate:
    __slots__ = ("chunk_id", "doc", "order", "terms", "text")

    def __init__(self, doc: Document, order: int, chunk_id: str, text: str) -> None:
        self.doc = doc
        self.order = order
        self.chunk_id = chunk_id
        self.text = text
        self.terms = _terms(text)


def _near_words(query: list[str], vocabulary: set[str]) -> dict[str, dict[str, float]]:
    """Per query word, the other words of the candidates at trigram similarity >= 0.5 (computed
    once per query over the vocabulary, not per chunk)."""
    out: dict[str, dict[str, float]] = {}
    for term in query:
        grams = _trigrams(term)
        near = {}
        for word in vocabulary:
            if word != term:
                similarity = _similarity(grams, _trigrams(word))
                if similarity >= _NEAR:
                    near[word] = similarity
        out[term] = near
    return out


def _distance(
    query: list[str], cand: _Candidate, idf: dict[str, float], near: dict[str, dict[str, float]]
) -> float:
    total = sum(idf[t] for t in query)
    if total <= 0:
        return 1.0
    found = 0.0
    for term in query:
        if term in cand.terms:
            found += idf[term]
            continue
        best = max((sim for word, sim in near[term].items() if word in cand.terms), default=0.0)
        found += idf[term] * best
    return round(_FAR * max(0.0, 1.0 - found / total), 4)


class RetrievalOps(IndexAttempts):
    """The rag-query endpoint (mixed into `World`)."""

    def _retrievable(
        self, cc: Json, workflow: Json | None, model: str, only: list[str] | None
    ) -> list[_Candidate]:
        """Chunks of the documents the configuration attaches (folders expanded, in order)
        that have a succeeded index for `model`; `only`: just these entries (ids or names)."""
        out: list[_Candidate] = []
        seen: set[str] = set()
        order = 0
        for entry in all_locators(cc, workflow):
            root = self._docs.get(str(entry.get("id")))
            if root is None or (only is not None and not {root.id, root.name} & set(only)):
                continue
            inner = [self._docs[d] for d in self._descendants(root.id)]
            for doc in [root, *inner] if root.doc_type == "folder" else [root]:
                if doc.doc_type == "folder" or doc.id in seen:
                    continue
                seen.add(doc.id)
                order += 1
                index_id = self._doc_indexes.get(doc.id, {}).get(model)
                ix = self._indexes.get(index_id) if index_id is not None else None
                if ix is None or self._index_state(ix)[0] != "succeeded":
                    continue
                for n, text in enumerate(self._index_chunks(ix)):
                    out.append(_Candidate(doc, order, f"{ix.id}_{n}", text))
        return out

    def rag_query(
        self,
        agent_id: str,
        query: str,
        *,
        strategy: str = "semantic",
        documents: list[str] | None = None,
        branch_id: str | None = None,
        use_agent_defaults: bool = True,
        max_documents_length: int | None = None,
        max_retrieved_rag_chunks_count: int | None = None,
    ) -> Json:
        """Ranked chunks the agent would retrieve, after distance and length filtering. An agent
        with RAG disabled retrieves nothing. `keyword` ranks the same way but reports no
        distance and does not filter by it."""
        with self._lock:
            agent = self._agent(agent_id)
            head = self._head(agent, self._branch(agent, branch_id).id)
            rag = rag_of(head.conversation_config)
            settings = rag if use_agent_defaults else {**RAG_DEFAULTS, "enabled": rag["enabled"]}
            limit_chars = int(str(max_documents_length or settings["max_documents_length"]))
            limit_count = int(
                str(max_retrieved_rag_chunks_count or settings["max_retrieved_rag_chunks_count"])
            )
            max_distance = float(str(settings["max_vector_distance"]))
            out: Json = {
                "strategy": strategy,
                "retrieval_query": query,
                "chunks": [],
                "document": None,
                "listing": None,
            }
            if rag.get("enabled") is not True:
                return out
            candidates = self._retrievable(
                head.conversation_config, head.workflow, str(rag["embedding_model"]), documents
            )
            terms = list(dict.fromkeys(tokenize(query)))
            n = len(candidates)
            idf = {}
            for term in terms:
                df = sum(term in c.terms for c in candidates)
                idf[term] = math.log(1.0 + (n + 1) / (1 + df)) if df else _ABSENT_WEIGHT
            vocabulary: set[str] = set().union(*(c.terms for c in candidates))
            near = _near_words(terms, vocabulary)
            scored = sorted(
                ((_distance(terms, c, idf, near), c) for c in candidates),
                key=lambda dc: (dc[0], dc[1].order, dc[1].chunk_id),
            )
            chunks: list[Json] = []
            used = 0
            for distance, cand in scored:
                semantic = strategy == "semantic"
                if (semantic and distance > max_distance) or len(chunks) >= limit_count:
                    break
                if used + len(cand.text) > limit_chars:
                    break
                used += len(cand.text)
                chunks.append(
                    {
                        "document_id": cand.doc.id,
                        "document_name": cand.doc.name,
                        "source_url": cand.doc.url if cand.doc.doc_type == "url" else None,
                        "chunk_id": cand.chunk_id,
                        "text": cand.text,
                        "vector_distance": distance if semantic else None,
                        "content_format": "markdown",
                        "document_type": cand.doc.doc_type,
                    }
                )
            out["chunks"] = chunks
            return out
