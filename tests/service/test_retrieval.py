"""Hybrid retrieval: the best lexical matches chosen exactly, whatever the share of texts that match; passages
scored by name as a search scores them."""

from __future__ import annotations

import numpy as np
import pytest

from ingest import Embedder, Index
from service.retrieval import Retriever, _top


@pytest.mark.parametrize(("size", "matching"), [(7, 1.0), (5_000, 0.3), (200_000, 0.6), (200_000, 0.002)])
def test_top_returns_exactly_the_k_highest_positive_scores(size: int, matching: float) -> None:
    rng = np.random.default_rng(size)
    scores = np.where(rng.random(size) < matching, rng.random(size), 0).astype(np.float32)
    scores[rng.integers(0, size, size // 10)] = 0.9  # many ties at a high score, as repeated texts give
    positive = np.flatnonzero(scores > 0)
    for k in (1, 5, 100, 3_000):
        chosen = _top(scores, k)
        assert len(set(chosen.tolist())) == len(chosen) == min(k, positive.size)
        assert (scores[chosen] > 0).all()
        expected = np.sort(scores[positive])[::-1][: len(chosen)]
        np.testing.assert_array_equal(np.sort(scores[chosen])[::-1], expected)
    assert _top(scores, 0).size == 0
    assert _top(np.zeros(size, dtype=np.float32), 10).size == 0


def test_passages_scored_by_name_score_as_a_search_finds_them(
    corpus_index: Index, embedder: Embedder
) -> None:
    """``score`` gives a glossary's entry, found by its term rather than by search, the score search would."""
    retriever = Retriever(corpus_index, embedder)
    found = retriever.search("Who oversees elections in the U.S.?", 10)
    rows = [candidate.passage for candidate in found[::-1]]
    assert retriever.score("Who oversees elections in the U.S.?", rows + rows[:2]) == found
    assert retriever.score("Who oversees elections in the U.S.?", []) == []
