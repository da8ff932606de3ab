"""Lexical search: BM25 (bm25s) over stemmed, stopword-free tokens, built at ingest and saved with the index.

Scores are divided by the largest score the query could reach (the sum of its terms' idf), so they lie in
[0, 1), mean "how much of the question's weight a text matches", and are comparable across questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.tokenization import Tokenizer
from numpy.typing import NDArray

Scores = NDArray[np.float32]


def _tokenizer() -> Tokenizer:
    return Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english").stemWord)


class LexicalIndex:
    """BM25 over a list of texts; ``scores(query)`` gives every text's normalised score.

    Example:
        >>> lexical = LexicalIndex.build(["Cats sit on mats.", "Dogs run in parks."])
        >>> [round(float(s), 2) for s in lexical.scores("running dogs")]
        [0.0, 0.4]
    """

    def __init__(self, tokenizer: Tokenizer, bm25: bm25s.BM25) -> None:
        self._tokenizer = tokenizer
        self._bm25 = bm25
        scores = bm25.scores
        document_frequency = np.diff(scores["indptr"]).astype(np.float64)
        count = float(scores["num_docs"])
        # Lucene idf, as bm25s's default method uses; a term's score never exceeds it.
        self._idf = np.log1p((count - document_frequency + 0.5) / (document_frequency + 0.5))
        self.size = int(count)

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        tokenizer = _tokenizer()
        ids = tokenizer.tokenize(list(texts), return_as="ids", show_progress=False)
        bm25 = bm25s.BM25()
        bm25.index(ids, show_progress=False)
        return cls(tokenizer, bm25)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder), show_progress=False)
        self._tokenizer.save_vocab(str(folder))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        bm25 = bm25s.BM25.load(str(folder), show_progress=False)
        tokenizer = _tokenizer()
        tokenizer.load_vocab(str(folder))
        return cls(tokenizer, bm25)

    def query_terms(self, query: str) -> list[int]:
        """The query's known terms (ids), each once."""
        [ids] = self._tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)
        return sorted({int(i) for i in ids if 0 <= i < len(self._idf)})

    def scores(self, query: str) -> Scores:
        """Every text's BM25 score for ``query``, divided by the query's reachable maximum."""
        terms = self.query_terms(query)
        ceiling = float(self._idf[terms].sum()) if terms else 0.0
        if ceiling <= 0.0:
            return np.zeros(self.size, dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores_from_ids(terms), dtype=np.float32)
        # in place: the array is bm25s's fresh one, a score per text, millions of them in a large index
        scores /= np.float32(ceiling)
        return scores

    def term_weights(self, query: str) -> dict[int, float]:
        """idf of each known query term, for scoring sentences against the question."""
        return {term: float(self._idf[term]) for term in self.query_terms(query)}

    def terms(self, texts: Sequence[str]) -> list[set[int]]:
        """Each text's known terms (ids); one call for many texts, as tokenizing has a fixed cost per call."""
        ids = self._tokenizer.tokenize(list(texts), update_vocab=False, return_as="ids", show_progress=False)
        return [{int(i) for i in text_ids} for text_ids in ids]
