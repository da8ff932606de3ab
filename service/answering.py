"""Answering: retrieved passages → the answering sentence highlighted, quoted with its neighbours → Answer.

Every ``text`` in an answer is ``document.text[start:end]``; every highlight is a range inside it. When the
best evidence scores below ``AnswerSettings.min_score`` the answer is a refusal that names the nearest topics.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from service.retrieval import Candidate, Retriever

Span = tuple[int, int]

# Words that point back into the conversation ("Which agency did that?").
_ANAPHORA = frozenset(
    [
        "it",
        "its",
        "that",
        "this",
        "these",
        "those",
        "they",
        "them",
        "their",
        "theirs",
        "he",
        "she",
        "him",
        "her",
        "his",
        "there",
        "such",
        "one",
        "ones",
    ]
)
_WORD = re.compile(r"[\w'-]+")


@dataclass(frozen=True)
class AnswerSettings:
    """How answers are chosen, cut and when citewell refuses. ``min_score`` is calibrated with ``citewell eval``.

    Sentences of the best retrieved windows are scored against the question:
    ``sentence_dense · cosine + sentence_lexical · BM25 share + window · the window's retrieval score``.
    """

    min_score: float = 0.35
    context_sentences: int = 1
    max_passage_chars: int = 800
    sentence_dense: float = 0.4
    sentence_lexical: float = 0.2
    window: float = 0.4
    # a neighbouring sentence joins the highlight when it scores within this margin of the best one
    highlight_margin: float = 0.03
    windows_per_passage: int = 2
    min_windows: int = 6

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class _ScoredSentence:
    row: int  # a passage (window) holding the sentence
    span: Span
    score: float


@dataclass(frozen=True)
class Highlight:
    start: int
    end: int


@dataclass(frozen=True)
class Source:
    document: str
    title: str
    section: str | None
    url: str | None
    start: int
    end: int


@dataclass(frozen=True)
class AnswerPassage:
    text: str
    score: float
    highlights: tuple[Highlight, ...]
    source: Source


@dataclass(frozen=True)
class Answer:
    answered: bool
    answer: str
    passages: tuple[AnswerPassage, ...]
    message: str | None = None
    query: str = field(default="", compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the API contract (``shared/API.md``)."""
        body: dict[str, Any] = {
            "answered": self.answered,
            "answer": self.answer,
            "passages": [
                {
                    "text": p.text,
                    "score": round(p.score, 4),
                    "highlights": [asdict(h) for h in p.highlights],
                    "source": asdict(p.source),
                }
                for p in self.passages
            ],
        }
        if self.message is not None:
            body["message"] = self.message
        return body


class Answerer:
    """Answers questions from an index, in its own words.

    Example:
        >>> answerer = Answerer(Retriever(load_index(Path(".citewell/index")), Embedder()))
        >>> answerer.ask("What did DHS do in January 2017?").answer[:29]
        'However, on January 6, 2017, '
    """

    def __init__(self, retriever: Retriever, settings: AnswerSettings | None = None) -> None:
        self.retriever = retriever
        self.index = retriever.index
        self.settings = settings or AnswerSettings()

    def ask(self, question: str, history: Sequence[Mapping[str, str]] = (), top_k: int = 3) -> Answer:
        query = resolve_query(question, history)
        vector = self.retriever.encode(query)
        settings = self.settings
        windows = max(top_k * settings.windows_per_passage, settings.min_windows)
        pool = self.retriever.search(query, windows, query_vector=vector)
        sentences = self._rank_sentences(query, vector, pool)
        answered = bool(sentences) and sentences[0].score >= settings.min_score
        chosen = self._quotes(sentences, top_k, highlight=answered)
        if not answered:
            return Answer(False, "", tuple(chosen), _refusal_message(chosen), query)
        first = chosen[0]
        answer_text = first.text[first.highlights[0].start : first.highlights[-1].end]
        return Answer(True, answer_text, tuple(chosen), None, query)

    def _rank_sentences(self, query: str, vector: np.ndarray, pool: list[Candidate]) -> list[_ScoredSentence]:
        """Every sentence of the retrieved windows, scored against the question, best first."""
        window_score: dict[tuple[str, Span], tuple[float, int]] = {}
        for candidate in pool:
            passage = self.index.passages[candidate.passage]
            for span in passage.sentences:
                key = (passage.document, span)
                if key not in window_score or window_score[key][0] < candidate.score:
                    window_score[key] = (candidate.score, candidate.passage)
        if not window_score:
            return []
        keys = list(window_score)
        texts = [self.index.documents[doc].text[s:e] for doc, (s, e) in keys]
        weights = self.index.lexical.term_weights(query)
        total = sum(weights.values()) or 1.0
        lexical = np.array(
            [sum(weights.get(t, 0.0) for t in self.index.lexical.terms(t)) / total for t in texts]
        )
        dense = self.retriever.embedder.encode(texts) @ vector
        window = np.array([window_score[k][0] for k in keys])
        settings = self.settings
        scores = (
            settings.sentence_dense * dense + settings.sentence_lexical * lexical + settings.window * window
        )
        order = np.argsort(-scores, kind="stable")
        return [_ScoredSentence(window_score[keys[i]][1], keys[i][1], float(scores[i])) for i in order]

    def _quotes(self, ranked: list[_ScoredSentence], top_k: int, *, highlight: bool) -> list[AnswerPassage]:
        """Best sentences first, each quoted with its paragraph neighbours; overlaps and duplicates dropped."""
        score_of = {(self.index.passages[s.row].document, s.span): s.score for s in ranked}
        chosen: list[AnswerPassage] = []
        taken: list[tuple[str, int, int]] = []
        seen_texts: set[str] = set()
        for sentence in ranked:
            if len(chosen) == top_k:
                break
            passage = self.index.passages[sentence.row]
            doc_id = passage.document
            if _overlaps_quoted(taken, doc_id, sentence.span):
                continue
            paragraph = self._paragraph_sentences(sentence.row)
            core = [sentence.span]
            position = paragraph.index(sentence.span)
            for neighbour in (
                paragraph[max(position - 1, 0) : position] + paragraph[position + 1 : position + 2]
            ):
                close = (
                    score_of.get((doc_id, neighbour), -1.0) >= sentence.score - self.settings.highlight_margin
                )
                if close and not _overlaps_quoted(taken, doc_id, neighbour):
                    core = sorted([sentence.span, neighbour])
                    break
            quote = self._widen(paragraph, core, taken, doc_id)
            start, end = quote[0][0], quote[-1][1]
            document = self.index.documents[doc_id]
            text = document.text[start:end]
            key = " ".join(text.casefold().split())
            if key in seen_texts:
                continue
            taken.append((doc_id, start, end))
            seen_texts.add(key)
            highlights = (Highlight(core[0][0] - start, core[-1][1] - start),) if highlight else ()
            source = Source(document.id, document.title, passage.section, document.url, start, end)
            chosen.append(AnswerPassage(text, sentence.score, highlights, source))
        return chosen

    def _widen(
        self, paragraph: list[Span], core: list[Span], taken: list[tuple[str, int, int]], doc_id: str
    ) -> list[Span]:
        """``core`` plus up to ``context_sentences`` sentences of its paragraph on each side, never reaching
        into a passage already quoted and never past ``max_passage_chars`` (unless the core alone is longer)."""
        first, last = paragraph.index(core[0]), paragraph.index(core[-1])
        limit = self.settings.max_passage_chars

        def free(span: Span) -> bool:
            return not _overlaps_quoted(taken, doc_id, span)

        for _ in range(self.settings.context_sentences):
            if (
                first > 0
                and free(paragraph[first - 1])
                and paragraph[last][1] - paragraph[first - 1][0] <= limit
            ):
                first -= 1
            if (
                last + 1 < len(paragraph)
                and free(paragraph[last + 1])
                and paragraph[last + 1][1] - paragraph[first][0] <= limit
            ):
                last += 1
        return paragraph[first : last + 1]

    def _paragraph_sentences(self, row: int) -> list[Span]:
        """Sentences of the paragraph holding passage ``row``, from the neighbouring windows of that paragraph."""
        passages = self.index.passages
        passage = passages[row]
        document = self.index.documents[passage.document]
        starts = [b.start for b in document.blocks]
        block = document.blocks[bisect.bisect_right(starts, passage.start) - 1]
        reach = self.settings.context_sentences + 2
        spans: set[Span] = set()
        for other in passages[max(0, row - reach) : row + reach + 1]:
            if other.document == passage.document and block.start <= other.start and other.end <= block.end:
                spans.update(other.sentences)
        return sorted(spans)


def _overlaps_quoted(taken: Sequence[tuple[str, int, int]], doc_id: str, span: Span) -> bool:
    """Whether ``span`` of ``doc_id`` shares a character with a passage already quoted."""
    return any(d == doc_id and s < span[1] and span[0] < e for d, s, e in taken)


def resolve_query(question: str, history: Sequence[Mapping[str, str]]) -> str:
    """The question to search for: a short question that leans on the conversation borrows the previous
    question's words; a question that stands on its own is left alone."""
    question = question.strip()
    earlier = [
        turn.get("content", "") for turn in history if turn.get("role") == "user" and turn.get("content")
    ]
    if not earlier:
        return question
    words = [w.casefold() for w in _WORD.findall(question)]
    content = [w for w in words if len(w) > 3 and w not in _ANAPHORA]
    leans_on_history = len(content) <= 1 or (bool(_ANAPHORA.intersection(words)) and len(content) <= 3)
    return f"{earlier[-1].strip()} {question}" if leans_on_history else question


def _refusal_message(nearest: Sequence[AnswerPassage]) -> str:
    topics: list[str] = []
    for passage in nearest:
        topic = passage.source.section or passage.source.title
        if topic not in topics:
            topics.append(topic)
    message = "The documents I can quote from do not answer this question."
    if topics:
        message += " The nearest topics they cover: " + "; ".join(topics) + "."
    return message
