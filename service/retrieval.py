"""Hybrid retrieval: dense (FAISS) and lexical (BM25) passage scores fused into one comparable score.

    score = dense · cosine(question, passage) + lexical · BM25(passage) + document · BM25(its document)

Each BM25 score is divided by the question's reachable maximum (see ``ingest.lexical``) and the weights sum to
one, so a score means the same thing for every question: it is what decides whether citewell answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from ingest import Index
from ingest.embedding import Vectors


class QueryEncoder(Protocol):
    """What reads questions, and the sentences scored against them: an ``ingest.Embedder``, or the service's
    ``batching.SharedEncoder`` of one, which joins concurrent requests' texts into one model call."""

    @property
    def name(self) -> str: ...

    @property
    def precision(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


@dataclass(frozen=True)
class RetrievalWeights:
    """Fusion weights (tuned on SciFact train and SQuAD v2.0 dev; see README) and the candidate pool size."""

    dense: float = 0.45
    lexical: float = 0.35
    document: float = 0.2
    candidates: int = 100
    candidate_documents: int = 20

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Candidate:
    """One retrieved passage (row of ``index.passages``) with its fused score and the parts it came from."""

    passage: int
    score: float
    dense: float
    lexical: float
    document: float


class Retriever:
    """Finds the passages nearest to a question, by meaning and by words.

    Example:
        >>> retriever = Retriever(load_index(Path(".citewell/index")), Embedder())
        >>> best = retriever.search("Who oversees elections?", 1)[0]
        >>> retriever.index.passages[best.passage].text[:6]
        'Forty '
    """

    def __init__(self, index: Index, embedder: QueryEncoder, weights: RetrievalWeights | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.weights = weights or RetrievalWeights()

    def encode(self, text: str) -> Vectors:
        return np.asarray(self.embedder.encode([text])[0], dtype=np.float32)

    def search(self, query: str, k: int, *, query_vector: Vectors | None = None) -> list[Candidate]:
        """The ``k`` best passages for ``query``, best first."""
        index, weights = self.index, self.weights
        if not index.passages or k <= 0:
            return []
        vector = self.encode(query) if query_vector is None else query_vector
        lexical = index.lexical.scores(query)
        document_lexical = index.document_lexical.scores(query)

        pool = max(weights.candidates, k)
        rows = {hit.passage for hit in index.search(vector[None, :], pool)[0]}
        rows.update(_top(lexical, pool))
        top_documents = _top(document_lexical, weights.candidate_documents)
        rows.update(index.passages_of(top_documents.tolist()).tolist())

        return self._fused(sorted(rows), vector, lexical, document_lexical, k)

    def score(
        self, query: str, rows: Sequence[int], *, query_vector: Vectors | None = None
    ) -> list[Candidate]:
        """Passages ``rows`` scored for ``query`` as ``search`` scores the passages it finds, best first."""
        if not rows:
            return []
        vector = self.encode(query) if query_vector is None else query_vector
        index = self.index
        return self._fused(
            sorted(set(rows)),
            vector,
            index.lexical.scores(query),
            index.document_lexical.scores(query),
            len(rows),
        )

    def _fused(
        self, rows: Sequence[int], vector: Vectors, lexical: np.ndarray, document_lexical: np.ndarray, k: int
    ) -> list[Candidate]:
        """The ``k`` best of ``rows`` with their fused scores, best first (ties in row order)."""
        index, weights = self.index, self.weights
        candidates = np.fromiter(rows, np.int64, len(rows))
        dense = np.asarray(index.vectors[candidates], dtype=np.float32) @ vector
        from_documents = document_lexical[index.passage_document[candidates]]
        fused = (
            weights.dense * dense + weights.lexical * lexical[candidates] + weights.document * from_documents
        )
        return [
            Candidate(
                int(candidates[i]),
                float(fused[i]),
                float(dense[i]),
                float(lexical[candidates[i]]),
                float(from_documents[i]),
            )
            for i in np.argsort(-fused, kind="stable")[:k]
        ]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest positive scores (unordered). Only texts sharing a word with the question
    score above zero, usually a small share of a large collection, so the selection runs over those alone."""
    matched = np.flatnonzero(scores > 0)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if matched.size <= k:
        return matched
    values = scores[matched]
    if matched.size > 64 * k:
        # The k-th highest of every 16th score is a floor that at least k scores reach, so the k highest are all
        # at or above it: selecting among those alone is exact, and much less work when common words match
        # hundreds of thousands of texts.
        floor = np.partition(values[::16], -k)[-k]
        above = values >= floor
        matched, values = matched[above], values[above]
    return matched[np.argpartition(-values, k - 1)[:k]]
