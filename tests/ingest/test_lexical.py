"""BM25 scores: bm25s's, divided by the most the question could score, so they lie in [0, 1)."""

from __future__ import annotations

import numpy as np

from ingest.lexical import LexicalIndex

TEXTS = [
    "Cats sit on mats. Cats sleep on mats all day.",
    "Dogs run in parks and dogs chase cats.",
    "Election officials count ballots by hand.",
    "Ballots are mailed to voters; voters return ballots by mail.",
    "Nothing here shares a word with the question.",
]


def test_scores_match_bm25s_and_are_normalised_by_the_reachable_maximum() -> None:
    lexical = LexicalIndex.build(TEXTS)
    for query in ["cats on mats", "ballots mailed to voters", "dogs chasing cats in parks", "unknownword"]:
        terms = lexical.query_terms(query)
        ceiling = sum(lexical.term_weights(query).values())
        scores = lexical.scores(query)
        if not terms:
            assert not scores.any()
            continue
        expected = lexical._bm25.get_scores_from_ids(terms) / ceiling
        np.testing.assert_allclose(scores, expected, rtol=1e-5)
        assert scores.dtype == np.float32 and scores.shape == (len(TEXTS),)
        assert scores.min() >= 0 and scores.max() < 1 and scores[4] == 0
    assert np.argmax(lexical.scores("ballots mailed to voters")) == 3
