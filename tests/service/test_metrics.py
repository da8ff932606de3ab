from __future__ import annotations

import math

import pytest

from service.measurement.ranking import mean, mrr_at_k, ndcg_at_k, recall_at_k


def test_ndcg_by_hand() -> None:
    relevance = {"a": 1, "c": 1}
    # relevant at ranks 1 and 3: DCG = 1 + 1/log2(4); ideal = 1 + 1/log2(3)
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["a", "b", "c"], relevance, 10) == pytest.approx(expected)
    assert ndcg_at_k(["a", "c", "b"], relevance, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["b", "d"], relevance, 10) == 0.0
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 1) == pytest.approx(0.5)  # graded: 1 of an ideal 2


def test_recall_and_mrr_by_hand() -> None:
    relevance = {"a": 1, "b": 1, "x": 0}
    ranked = ["z", "x", "b", "y", "a"]
    assert recall_at_k(ranked, relevance, 3) == 0.5
    assert recall_at_k(ranked, relevance, 5) == 1.0
    assert mrr_at_k(ranked, relevance, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, relevance, 2) == 0.0
    assert mean([]) == 0.0 and mean([1.0, 0.0]) == 0.5
