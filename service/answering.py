"""Answering: retrieved passages → the answering sentence highlighted, quoted with its neighbours → Answer.

Every ``text`` in an answer is ``document.text[start:end]``; every highlight is a range inside it. When the
best evidence scores below ``AnswerSettings.min_score`` the answer is a refusal that names the nearest topics.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ingest import ANSWER_KINDS, Block, Document, Embedder, load_index
from ingest.chunking import split_sentences, title_row
from service.retrieval import Candidate, QueryEncoder, RetrievalWeights, Retriever

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
# Words of a question that name no topic of their own: "What about lists?" is about lists, and about whatever the
# conversation was about.
_QUESTION_WORDS = frozenset(
    ["what", "which", "where", "when", "whose", "about", "does", "should", "would", "could", "might", "must", "shall",
     "have", "also", "instead", "else"]
)  # fmt: skip
_WORD = re.compile(r"[\w'-]+")
_SPACES = re.compile(r"\s+")
# the most questions a follow-up is searched with: itself and the two it leans on
_CHAINED = 3
# How a question that carries on the conversation opens: "And state legislators?", "So how do I get them sorted?",
# "What if I only want to undo part of it?", "Even if it was renamed at some point?"
_CONTINUES_CONVERSATION = re.compile(
    r"(?:and|so|but|also|then|or|plus|even|what if|why not)\b", re.IGNORECASE
)
# "What does WAL stand for?": the answer is where the acronym is spelled out, which a sentence merely using it
# resembles as much to the model.
_ASKS_MEANING = re.compile(
    r"\b(stands? for|short for|abbreviat\w*|acronym|spelled out|expand\w*)\b", re.IGNORECASE
)
# A query of a few words that asks nothing ("savepoints", "f-strings", "table inheritance"), as typed into a
# documentation site's search box: it wants what the thing is, as "What are savepoints?" does.
_BARE_TERM = re.compile(r"\s*(?!(?:how|why|what|which|who|whose|where|when|is|are|can|do|does|should|i)\b)"
                        r"([\w'-]+(?: [\w'-]+){0,2})\s*\??\s*", re.IGNORECASE)  # fmt: skip
# A manual page's NAME line: the command, a dash, what it does ("git-stash - Stash the changes …", "createdb —
# create a new PostgreSQL database", "CREATE TABLE — define a new table")
_NAME_LINE = re.compile(r"([\w.]+(?:[ -][\w.]+){0,3})\s+[-\u2013\u2014]\s+\w")
# windows searched for an acronym or a term alone: a common one ("WAL") is used in hundreds
_TERM_REACH = 64
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*[A-Z0-9]\b")
# What a question asks for, and the words of a sentence that gives that kind of answer. The model places a
# sentence by its topic, so the sentence that states a fact ("...cannot be used in the WHERE clause") and the one
# that gives its reason ("...because the WHERE clause determines which rows...") come out alike for "why".
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_ANSWER_TYPES = (
    (
        re.compile(r"\bwhy\b", re.IGNORECASE),
        re.compile(
            r"\b(because|the reason|due to|so that|in order to|owing to|as a result|thus|therefore|hence"
            r"|the advantage|the benefit)\b",
            re.IGNORECASE,
        ),
    ),
    (
        re.compile(
            r"^\s*(when|in what year|what year|in which year|what century|what decade|what time)\b",
            re.IGNORECASE,
        ),
        # case kept: "May" is a month, "may" is not
        re.compile(rf"\b(1\d{{3}}|20\d{{2}}|{_MONTHS}|century|centuries|decade|\d{{1,4}}s)\b"),
    ),
)
# A sentence that opens by pointing back continues the one before it ("Often, the first argument of a method is
# called self. This is nothing more than a convention: …").
_CONTINUES = re.compile(r"(?:This|That|These|Those|It|Such)\b")
# A sentence that opens by pointing back finishes the one before it ("We can also join a table against itself.
# This is called a self join."); "It" opens as many sentences that point nowhere ("It is not possible to …").
_POINTS_BACK = re.compile(r"(?:This|That|These|Those|Such)\b")
# A sentence that ends a paragraph with ":" before paragraphs of one short sentence each introduces them: the items
# of a list ("… for several reasons:"), which are the answer. At most this many characters of items are highlighted
# with it, each item at most this long.
_LISTED_MAX_CHARS = 600
_LIST_ITEM_MAX_CHARS = 300
# "What is a view?", "What's a join query?": the term a question asks to have defined, up to 40 characters.
_ASKS_DEFINITION = re.compile(
    r"^\s*what(?:\s+exactly|\s+actually)?(?:['\u2019]s|\s+is|\s+are)\s+(?:meant\s+by\s+)?(?:exactly\s+|actually\s+)?"
    r"(?:an?\s+|the\s+)?([\w' -]{2,40}?)\s*(?:,\s*(?:and|or)\s[^?]*)?"
    r"(?:,?\s*(?:basically|exactly|actually|really|in short|in a nutshell|in simple terms|in plain English))?"
    r"\??\s*$",
    re.IGNORECASE,
)
# "What does VACUUM do?", "What is VACUUM used for?": what a reference page's NAME line or a glossary says
_ASKS_WHAT_IT_DOES = re.compile(
    r"^\s*what\s+(?:does|do)\s+(?:an?\s+|the\s+)?([\w' -]{2,40}?)\s+(?:actually\s+|really\s+|exactly\s+)?do\s*\??\s*$",
    re.IGNORECASE,
)
_ASKS_WHAT_FOR = re.compile(
    r"^\s*what(?:['\u2019]s|\s+is|\s+are)\s+(?:an?\s+|the\s+)?([\w' -]{2,40}?)\s+(?:used\s+|good\s+)?for\s*\??\s*$",
    re.IGNORECASE,
)
# What a term that opens a sentence does when the sentence defines it by its use ("Savepoints allow you to …").
_DOES = (
    r"(?:is|are) used|performs?|computes?|returns?|allows?|lets?|provides?|takes?|creates?|gives?|represents?"
    r"|holds?|stores?|contains?|describes?|means?|enables?|specif(?:y|ies)|determines?|denotes?"
)
# Words after a name that end the name and carry the sentence on ("… are called exceptions and are not
# unconditionally fatal"), where a noun would extend it ("… is called a table alias").
_CLAUSE_GOES_ON = r"(?:and|or|but|for|in|that|which|when|if|because|since|by|with)\b"
# "What is a module for, and how do I write one?" asks what it is used for, and how (``_ASKS_WHAT_FOR`` reads the
# plain "What is a module for?").
_NOT_A_TERM_END = frozenset({"for", "by", "of", "to", "in", "on", "with", "about", "like", "from", "at"})
# The fewest pages a paragraph must stand on to be a site's furniture (``Answerer._furniture``)
_FURNITURE_PAGES = 3
# How many descriptions of a term that a question names are scored: ``Answerer._named_term_windows``.
_NAMED_WINDOWS = 2
# The cosine from which a question restates a heading that asks a question: an FAQ's reworded ("Does Python have
# a curses or termcap library?" and "Is there a curses/termcap package for Python?": 0.96; "Where can I download
# the Python source code?" and "How do I obtain a copy of the Python source?": 0.81). Below it a heading is only
# a topic: on the election page "Whose responsibility is the administration of elections?" is at 0.76 to "Who
# Oversees the Elections Process in the U.S.?", whose opening does not answer it, and "How can I turn a string
# like '144' into an int?" at 0.68 to the FAQ's opposite, "How do I convert a number to a string?".
_RESTATES = 0.8
# "15.2. " before a heading's words
_SECTION_NUMBER = re.compile(r"^\s*(?:[\dA-Z]+\.)+\d*\s+")
# The longest code example quoted with the sentence that introduces it.
_EXAMPLE_MAX_CHARS = 1200
# A sentence that asks a question: it ends with "?", maybe inside quotes or brackets.
_ASKS = re.compile(r"\?[\s\"'\u201d\u2019)\]]*$")
# How far past code and labels the prose that explains them is looked for, in windows.
_PROSE_REACH = 3


class Turn(NamedTuple):
    """One earlier turn of a conversation (``role`` "user" or "assistant"). A tuple, so that a conversation is
    hashable and can key a cache as it is."""

    role: str
    content: str


@dataclass(frozen=True)
class AnswerSettings:
    """How answers are chosen, cut and when citewell refuses.

    The highlight is the best *span* of the retrieved windows: one sentence, or two adjacent sentences of a
    paragraph scored as one text, so that an answer whose words are split over two sentences ("NASS ... have
    opposed the designation. While NASS remains vigilant ...") is found as a whole. A span scores
    ``span_dense · cosine + span_lexical · BM25 share + window · the best retrieval score of its windows``.

    citewell answers when the best span's own cosine to the question reaches ``min_score``. The fused score
    ranks well but refuses badly: its BM25 parts ignore the question's words that no document uses ("MySQL",
    "Jupiter"), so an off-topic question whose other words match looks well answered, and their scale moves with
    the collection. The cosine of one sentence to the question means the same on every collection.
    """

    # Calibrated on three collections at once (README, "When citewell refuses"): the PostgreSQL tutorial's 44
    # answerable and 10 unanswerable questions, the election page's dev and corpus questions (32 and 8), and
    # SQuAD 2.0 dev questions (3,000, then another 2,000), half of them unanswerable from the very paragraphs
    # indexed. 0.48 gives the best mean of (share answered + share refused) over the three. Override with
    # --min-score or CITEWELL_MIN_SCORE; recalibrate with `citewell calibrate` when the model or scoring changes.
    min_score: float = 0.48
    context_sentences: int = 1
    max_passage_chars: int = 800
    span_dense: float = 0.4
    span_lexical: float = 0.2
    window: float = 0.4
    windows_per_passage: int = 2
    min_windows: int = 6
    # added to a span that spells out the acronym a question asks about ("Write-Ahead Logging (WAL)"), or
    # defines the term it asks about ("A set is an unordered collection …" for "What is a set?"): ``asked_term``
    term_answer: float = 0.25
    # added besides to an entry for the asked term, where a site says what it is on purpose: a glossary's entry
    # or a manual page's NAME line, over sentences that merely open with it ("VACUUM creates a substantial amount
    # of I/O traffic …", "DROP RULE is a PostgreSQL language extension …")
    entry: float = 0.2
    # added to a span of the type of answer the question asks for: a reason for "why", a date for "when"
    # (``_ANSWER_TYPES``); chosen on SQuAD 2.0 dev (0.03, 0.06, 0.1 tried), checked on SQuAD 1.1 dev (README)
    answer_type: float = 0.06
    # added to the first sentence (or pair) of a description whose term the question names exactly ("What does
    # git reset --hard do?" and the paragraph under "--hard"), or to any of its sentences when the question asks
    # more than what the term does ("What is the default value of work_mem?"); the span then answers whatever
    # its cosine, as a definition does for ``term_answer``: the model reads an option's name as little more
    # than punctuation.
    # Chosen on questions about options of PostgreSQL's programs (0.25 gave 88/120, 0.4 119/120) and Git's
    # reference pages (12/19 from 0.25 to 0.5, 10/19 at 0.1); README, Answer quality
    named_term: float = 0.4
    # subtracted from an item of a row of titles ("RELATED: … | NASS Letter to Facebook … (March 2019) | …",
    # ``ingest.chunking.title_row``): a title names a topic and says nothing about it, so the prose that does wins
    # unless the title is by far the closest text ("When did NASS write to Facebook?")
    title_row: float = 0.1
    # added to the opening of a section whose heading asks the question itself (cosine ``_RESTATES``): an FAQ's
    # "How do I copy a file?" opens with its answer, "The shutil module contains a copyfile() function.", which
    # the model puts below the section's later, wordier sentences; the span then answers whatever its cosine.
    # Chosen on the Python FAQ's 107 questions (0.1: 88, 0.2: 92, 0.3: 96, 0.4: 100) and 36 of them reworded
    # (23, 25, 26, 26), the election page unchanged at each; README, Answer quality
    question_heading: float = 0.3
    # the most windows whose sentences are scored, whatever ``top_k`` asks: scoring encodes every sentence of
    # them, so this bounds one request's CPU; passages past them are quoted as related, without a highlight
    max_scored_windows: int = 12
    # at most this many of the windows scored come from one paragraph, so that a paragraph whose words or heading
    # match the question (a list of links under a heading that asks the question) cannot crowd out the others
    windows_per_paragraph: int = 2


@dataclass(frozen=True)
class _ScoredSpan:
    row: int  # a passage (window) holding the span
    sentences: tuple[Span, ...]  # one sentence, or two adjacent ones
    score: float  # what ranks the spans: the sentence and the retrieval evidence around it
    cosine: float  # the sentence alone against the question: what decides whether it answers
    # whether it spells out the acronym, or defines the term, that the question asks about (``asked_term``), or
    # describes the term that the question names (``names_term``): then it answers whatever its cosine
    answers_term: bool = False


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
    # ranges of ``text`` that are code blocks: shown in monospace with their line breaks
    code: tuple[Highlight, ...] = ()


@dataclass(frozen=True)
class Answer:
    answered: bool
    answer: str
    passages: tuple[AnswerPassage, ...]
    message: str | None = None
    # how closely the best sentence says what was asked (its cosine to the question): ``answered`` is whether it
    # reaches ``AnswerSettings.min_score``, or the sentence defines the term asked about or describes the one
    # named; None when nothing was found
    confidence: float | None = field(default=None, compare=False)
    # for a refusal: the sections (or titles) of the nearest passages, best first, to suggest asking about
    topics: tuple[str, ...] = ()


class Answerer:
    """Answers questions from an index, in its own words.

    Example:
        >>> answerer = Answerer.open(Path(".citewell/index"))
        >>> answerer.ask("What did DHS do in January 2017?").answer[:29]
        'However, on January 6, 2017, '
    """

    @classmethod
    def open(
        cls,
        index_dir: Path,
        *,
        model: str | None = None,
        precision: str = "float32",
        settings: AnswerSettings | None = None,
        weights: RetrievalWeights | None = None,
        embedder: QueryEncoder | None = None,
    ) -> Answerer:
        """An answerer over the live index of ``index_dir`` that reads questions with the model the index was
        built with (its manifest says which). ``model`` refuses an index of another model; ``embedder`` shares
        a model already loaded (it must be the index's)."""
        index = load_index(index_dir, model=model or (embedder.name if embedder else None))
        embedder = embedder or Embedder(index.model, precision=precision)
        return cls(Retriever(index, embedder, weights), settings)

    def __init__(self, retriever: Retriever, settings: AnswerSettings | None = None) -> None:
        self.retriever = retriever
        self.index = retriever.index
        self.settings = settings or AnswerSettings()
        self._span_vectors = _VectorCache(retriever.embedder.encode)

    def ask(self, question: str, history: Sequence[Turn] = (), top_k: int = 3) -> Answer:
        settings = self.settings
        windows = max(top_k * settings.windows_per_passage, settings.min_windows)
        scored = min(windows, settings.max_scored_windows)
        resolved = resolve_query(question, history)
        # A follow-up is searched with the previous question's words, and also alone: the earlier topic can
        # dilute one that the follow-up names itself ("Why did NASS oppose it?"); the better evidence wins.
        tries = [resolved] if resolved == question.strip() else [resolved, question.strip()]
        vectors = {query: self.retriever.encode(query) for query in tries}
        best: tuple[float, list[_ScoredSpan], list[Candidate]] | None = None
        repeated = self._repeated_answer(question, history) if len(tries) > 1 else None
        for query in tries:
            vector = vectors[query]
            found = self._explained(self.retriever.search(query, windows * 3, query_vector=vector))
            named = self._named_term_windows(query, found) if _names_code(query) else []
            term = asked_term(query) or (bare_term(query) if len(tries) == 1 else None)
            pool = self._diverse(found, scored) + self._term_windows(term) + named
            if len(tries) > 1 and query == resolved:
                # the sentences are ranked by the follow-up's own words as much as by the two questions
                # together, which favour the sentence that answered the last one ("And numbered ones?" after
                # a question on bullet lists); whether one answers is judged against the two together
                both = vectors[question.strip()] + vector
                ranked = self._rank_spans(query, both / np.linalg.norm(both), pool, term, judge=vector)
            else:
                ranked = self._rank_spans(query, vector, pool, term)
            if repeated is not None:
                ranked = [span for span in ranked if not repeated(span)]
            score = ranked[0].score if ranked else float("-inf")
            if best is None or score > best[0]:
                best = (score, ranked, found)
        assert best is not None
        _, spans, found = best
        # A sentence that says what the asked term is ("…to create a virtual environment, a self-contained
        # directory tree …") answers "What is a virtual environment?" whatever the model makes of its wording.
        answered = bool(spans) and (spans[0].cosine >= settings.min_score or spans[0].answers_term)
        chosen = self._quotes(spans, top_k, highlight=answered, related=found)
        confidence = spans[0].cosine if spans else None
        if not answered:
            topics = self._topics(spans)
            return Answer(False, "", tuple(chosen), _refusal_message(topics), confidence, topics)
        first = chosen[0]
        answer_text = first.text[first.highlights[0].start : first.highlights[-1].end]
        return Answer(True, answer_text, tuple(chosen), None, confidence)

    def _repeated_answer(
        self, question: str, history: Sequence[Turn]
    ) -> Callable[[_ScoredSpan], bool] | None:
        """For a follow-up, whether a span only repeats the last answer (the assistant turn that ends ``history``,
        as the widget sends it) without a word of the follow-up's own: "What about writing to it?" after "How do
        I read a file line by line?" is not answered by "For reading lines from a file, you can loop over the
        file object." again, nor "Why?" by the sentence it asks about; "And state legislators?" still is by
        "Governors … also play a part …, and state legislators make policy …". None when there is no last answer."""
        if not history or history[-1].role != "assistant" or not history[-1].content.strip():
            return None
        said = _SPACES.sub(" ", history[-1].content).strip()
        lexical = self.index.lexical
        own = lexical.terms([question])[0]

        def repeated(span: _ScoredSpan) -> bool:
            passage = self.index.passages[span.row]
            text = self.index.documents[passage.document].text[span.sentences[0][0] : span.sentences[-1][1]]
            return _SPACES.sub(" ", text) in said and not own & lexical.terms([text])[0]

        return repeated

    def _topics(self, spans: Sequence[_ScoredSpan], most: int = 3) -> tuple[str, ...]:
        """The sections (else titles) of the best spans, each once, best first: the nearest passages often share
        one section, so the spans past them are read until ``most`` different topics are found. A section whose
        heading stands on several pages ("EXAMPLES", "Description", "Note") is named with its page's title
        ("git-reset(1) — EXAMPLES"): the widget offers each topic as a question to ask, and "EXAMPLES" alone
        would ask about every page's examples."""
        topics: dict[str, None] = {}
        for span in spans:
            passage = self.index.passages[span.row]
            title = self.index.documents[passage.document].title
            section = passage.section
            if section in self._shared_headings and section != title:
                section = f"{title} — {section}"
            topics[section or title] = None
            if len(topics) == most:
                break
        return tuple(topics)

    @cached_property
    def _shared_headings(self) -> frozenset[str]:
        """The headings that stand on more than one page of the collection: a reference page's "DESCRIPTION" and
        "OPTIONS", an admonition's "Note". Read once, at the first refusal."""
        pages: dict[str, int] = {}
        for document in self.index.documents.values():
            headings = {document.block_text(block) for block in document.blocks if block.kind == "heading"}
            for heading in headings:
                pages[heading] = pages.get(heading, 0) + 1
        return frozenset(heading for heading, count in pages.items() if count > 1)

    @cached_property
    def _furniture(self) -> frozenset[str]:
        """The paragraphs that stand, word for word, on at least half of a collection's pages (and on at least
        ``_FURNITURE_PAGES``): what a generator writes on every page, such as Git's "Part of the git(1) suite",
        which says nothing about the page's subject. An option's description that programs' pages share
        ("Specifies the host name of the machine on which the server is running.") describes its term on each
        and is not. Read once, at the first question."""
        pages: dict[str, int] = {}
        for document in self.index.documents.values():
            paragraphs = {
                document.block_text(block)
                for block in document.blocks
                if block.kind in ANSWER_KINDS and not document.terms_of(block)
            }
            for paragraph in paragraphs:
                pages[paragraph] = pages.get(paragraph, 0) + 1
        least = max(_FURNITURE_PAGES, len(self.index.documents) / 2)
        return frozenset(paragraph for paragraph, count in pages.items() if count >= least)

    def _term_windows(self, asked: tuple[str, re.Pattern[str]] | None) -> list[Candidate]:
        """For a question about an acronym's meaning or a term's definition ("What does WAL stand for?", "What is
        a virtual environment?"), the best windows for the term alone that spell it out or define it: the
        question's other words pull retrieval towards sentences that use the term, and a page about the term
        has many short windows (commands, captions) that its title makes look alike. ``asked``: ``asked_term``
        of the question."""
        if asked is None:
            return []
        term, answers = asked
        passages, documents = self.index.passages, self.index.documents
        found = self.retriever.search(term, _TERM_REACH)
        # a glossary's entry for the term: on a large site the term alone matches hundreds of windows
        entries = set(self._entries.get(_entry_name(term), ()))
        seen = {candidate.passage for candidate in found}
        return [
            candidate
            for candidate in found + self.retriever.score(term, sorted(entries - seen))
            if candidate.passage in entries
            or answers.search(
                documents[passages[candidate.passage].document].text[
                    passages[candidate.passage].start : passages[candidate.passage].end
                ]
            )
        ]

    @cached_property
    def _entries(self) -> dict[str, list[int]]:
        """The windows that open a description, by the ``_entry_name`` of the term right above it: a glossary's
        or another definition list's entries ("View" over "A relation that is defined by a SELECT statement
        …"; the labels above that one belong to entries with no description of their own, such as "Optimizer"
        and its "See Query planner."); and a manual page's NAME line, by its command ("git-rebase - Reapply
        commits on top of another base tip" under "NAME": "git rebase" names hundreds of the page's windows).
        Read once, at the first question that asks what a term is."""
        entries: dict[str, list[int]] = {}
        for document, block, windows in self._prose_blocks():
            terms = document.terms_of(block)
            name = document.block_text(terms[-1]) if terms else _manual_name(document, block)
            if name is not None and windows and self.index.passages[windows[0]].start <= block.start:
                entries.setdefault(_entry_name(name), []).append(windows[0])
        return entries

    def _prose_blocks(self) -> Iterator[tuple[Document, Block, list[int]]]:
        """Each paragraph or list item of the collection, with the windows that hold its text in order."""
        index = self.index
        for number, doc_id in enumerate(index.document_ids):
            document = index.documents[doc_id]
            rows = index.passages_of([number]).tolist()
            starts = [index.passages[row].start for row in rows]
            for block in document.blocks:
                if block.kind in ANSWER_KINDS:
                    first = max(bisect.bisect_right(starts, block.start) - 1, 0)
                    held = rows[first : bisect.bisect_left(starts, block.end)]
                    yield document, block, [row for row in held if index.passages[row].end > block.start]

    def _explained(self, ranked: list[Candidate]) -> list[Candidate]:
        """``ranked`` with each window of code or a label replaced by the prose windows just before and after it
        in its document, at its score: a question that matches a code example is answered by the sentences that
        introduce and explain the example, which are the only ones that may be highlighted."""
        best: dict[int, Candidate] = {}
        for candidate in ranked:
            rows = [candidate.passage]
            if self._block_of(candidate.passage).kind not in ANSWER_KINDS:
                rows = self._prose_beside(candidate.passage)
            for row in rows:
                if row not in best or best[row].score < candidate.score:
                    best[row] = replace(candidate, passage=row)
        return sorted(best.values(), key=lambda candidate: -candidate.score)

    def _prose_beside(self, row: int) -> list[int]:
        """The nearest windows of prose before and after passage ``row`` in its document (code and labels
        skipped, at most ``_PROSE_REACH`` windows away)."""
        rows = self.index.passages_of([int(self.index.passage_document[row])]).tolist()
        here = rows.index(row)
        before = rows[max(0, here - _PROSE_REACH) : here][::-1]
        after = rows[here + 1 : here + 1 + _PROSE_REACH]
        nearest = (
            next((r for r in side if self._block_of(r).kind in ANSWER_KINDS), None)
            for side in (before, after)
        )
        return [r for r in nearest if r is not None]

    def _diverse(self, ranked: list[Candidate], windows: int) -> list[Candidate]:
        """The best ``windows`` candidates, at most ``windows_per_paragraph`` of them from any one paragraph."""
        chosen: list[Candidate] = []
        per_paragraph: dict[tuple[str, int], int] = {}
        for candidate in ranked:
            paragraph = self._paragraph_of(candidate.passage)
            if per_paragraph.get(paragraph, 0) < self.settings.windows_per_paragraph:
                per_paragraph[paragraph] = per_paragraph.get(paragraph, 0) + 1
                chosen.append(candidate)
                if len(chosen) == windows:
                    break
        return chosen

    def _paragraph_of(self, row: int) -> tuple[str, int]:
        """(document, start of its block): which paragraph passage ``row`` belongs to."""
        return self.index.passages[row].document, self._block_of(row).start

    def _block_of(self, row: int) -> Block:
        """The block (paragraph, heading, list item) of its document that passage ``row`` starts in."""
        passage = self.index.passages[row]
        return self.index.documents[passage.document].block_at(passage.start)

    def _rank_spans(
        self,
        query: str,
        vector: np.ndarray,
        pool: list[Candidate],
        term: tuple[str, re.Pattern[str]] | None,
        judge: np.ndarray | None = None,
    ) -> list[_ScoredSpan]:
        """Every sentence of the retrieved windows, and every pair of adjacent sentences in one window,
        scored against the question, best first; ``term`` (``asked_term`` of the question) favours the spans
        that define or spell out what it asks about. Each span's ``cosine`` is to ``judge`` when given (what
        decides whether it answers), else to ``vector``."""
        best_window: dict[tuple[str, tuple[Span, ...]], tuple[float, int]] = {}
        for candidate in pool:
            block = self._block_of(candidate.passage)
            if block.kind not in ANSWER_KINDS:
                continue  # code and labels are quoted beside the sentences around them, never alone
            passage = self.index.passages[candidate.passage]
            text = self.index.documents[passage.document].text
            if text[block.start : block.end] in self._furniture:
                continue  # what every page says, whatever its subject
            units: list[tuple[Span, ...]] = [(span,) for span in passage.sentences]
            units += pairwise(passage.sentences)
            for unit in units:
                if _ASKS.search(text, unit[-1][0], unit[-1][1]):
                    # a question in the text ("Why would you want to build URLs using url_for() instead of
                    # hard-coding them?") restates the reader's and answers it in the sentences after it
                    continue
                key = (passage.document, unit)
                if key not in best_window or best_window[key][0] < candidate.score:
                    best_window[key] = (candidate.score, candidate.passage)
        if not best_window:
            return []
        keys = list(best_window)
        # read after the terms their paragraph describes, as at ingest
        texts = [self.index.documents[doc].described(unit[0][0], unit[-1][1]) for doc, unit in keys]
        weights = self.index.lexical.term_weights(query)
        total = sum(weights.values()) or 1.0
        lexical = np.array(
            [sum(weights.get(t, 0.0) for t in terms) / total for terms in self.index.lexical.terms(texts)]
        )
        unit_vectors = self._unit_vectors(
            [best_window[k][1] for k in keys], [unit for _, unit in keys], texts
        )
        dense = unit_vectors @ vector
        judged = dense if judge is None else unit_vectors @ judge
        window = np.array([best_window[k][0] for k in keys])
        settings = self.settings
        scores = settings.span_dense * dense + settings.span_lexical * lexical + settings.window * window
        answers_term = np.zeros(len(keys), dtype=np.float64)
        # the term whose definition the question asks for ("What is a view?"), not an acronym's spelling out
        defined = term[0] if term is not None and _asked_acronym(query) is None else None
        if term is not None:
            entries = np.array(
                [defined is not None and self._opens_entry(defined, doc, unit) for doc, unit in keys],
                dtype=bool,
            )
            # what a term is for is what its entry says, not what a sentence that defines it does ("A module is
            # a file containing Python definitions and statements." for "What is a module for?")
            defines = not _ASKS_WHAT_FOR.match(query)
            answers_term = np.logical_or(
                entries, [defines and term[1].search(text) is not None for text in texts]
            )
            scores = scores + settings.term_answer * answers_term + settings.entry * entries
        asked = [answer for question, answer in _ANSWER_TYPES if question.search(query)]
        if asked:
            of_type = np.array([any(a.search(text) for a in asked) for text in texts], dtype=np.float64)
            scores = scores + settings.answer_type * of_type
        if settings.title_row:
            documents = self.index.documents
            scores = scores - settings.title_row * np.array(
                [bool(title_row(documents[doc], documents[doc].block_at(unit[0][0]))) for doc, unit in keys],
                dtype=np.float64,
            )
        if settings.question_heading:
            # a bare term ("copy a file") restates "How do I copy a file?" as well as "What is …?"
            asks_what = defined if _ASKS_DEFINITION.match(query) else None
            restated = self._restated_headings(vector, keys, asks_what, bool(_ASKS_WHAT_FOR.match(query)))
            scores = scores + settings.question_heading * restated
            answers_term = np.logical_or(answers_term, restated)
        if settings.named_term:
            describes = np.array(
                [self._describes_named_term(query, doc, unit) for doc, unit in keys], dtype=bool
            )
            scores = scores + settings.named_term * describes
            # the description of the option the question names says what it does, whatever the model makes of
            # "-p" ("What does git add -p do?": "Interactively choose hunks …" is at cosine 0.26)
            answers_term = np.logical_or(answers_term, describes)
        order = np.argsort(-scores, kind="stable")
        return [
            _ScoredSpan(
                best_window[keys[i]][1], keys[i][1], float(scores[i]), float(judged[i]), bool(answers_term[i])
            )
            for i in order
        ]

    def _restated_headings(
        self,
        vector: np.ndarray,
        keys: Sequence[tuple[str, tuple[Span, ...]]],
        defined: str | None,
        purpose: bool = False,
    ) -> np.ndarray:
        """For each span of ``keys``, whether it opens a section whose heading is a question that the question
        (``vector``) restates: at cosine ``_RESTATES`` or more, and, when the question asks what the term
        ``defined`` is (or, ``purpose``, what it is for), a heading that asks the same. The model reads a short
        question mostly by the thing it names: "What is a parallel query?" is at 0.84 to "When Can Parallel
        Query Be Used?", "What is Python good for?" at 0.8 or more to "What is Python?"."""
        headings: list[str | None] = []
        for doc_id, unit in keys:
            document = self.index.documents[doc_id]
            block = document.block_at(unit[0][0])
            heading = _question_heading(document, block) if unit[0][0] == block.start else None
            if heading is not None and defined is not None:
                words = _SECTION_NUMBER.sub("", heading)
                asks = asked_term(words)
                same = (
                    asks
                    and _entry_name(asks[0]) == _entry_name(defined)
                    and bool(_ASKS_WHAT_FOR.match(words)) == purpose
                )
                heading = heading if same else None
            headings.append(heading)
        asked = sorted({heading for heading in headings if heading is not None})
        if not asked:
            return np.zeros(len(keys), dtype=bool)
        restates = dict(zip(asked, self._span_vectors.encode(asked) @ vector >= _RESTATES, strict=True))
        return np.array([heading is not None and restates[heading] for heading in headings], dtype=bool)

    def _opens_entry(self, term: str, doc_id: str, unit: tuple[Span, ...]) -> bool:
        """Whether ``unit`` opens the description right under a label that is ``term`` itself, a glossary's entry
        ("View" over "A relation that is defined by a SELECT statement …"), or is the NAME line of a manual page
        of the command ``term`` ("VACUUM — garbage-collect and optionally analyze a database")."""
        document = self.index.documents[doc_id]
        block = document.block_at(unit[0][0])
        if unit[0][0] != block.start:
            return False
        terms = document.terms_of(block)
        name = document.block_text(terms[-1]) if terms else _manual_name(document, block)
        return name is not None and _entry_name(name) == _entry_name(term)

    def _describes_named_term(self, question: str, doc_id: str, unit: tuple[Span, ...]) -> bool:
        """Whether ``unit`` is in a description whose term (an option, a setting: a label that looks like code)
        ``question`` names: its opening, which says what the term does, or any of it when the question asks
        about something more ("What is the default value of work_mem?")."""
        document = self.index.documents[doc_id]
        block = document.block_at(unit[0][0])
        return _describes(question, document, block) and (
            unit[0][0] == block.start or _asks_beyond_what_it_does(question, document.title)
        )

    def _named_term_windows(self, question: str, ranked: list[Candidate]) -> list[Candidate]:
        """The best ``_NAMED_WINDOWS`` windows that describe a term ``question`` names ("What does createdb -T
        do?" and the paragraph under "-T template"), all from one page: that of the best ranked of them, else
        the best ranked page that has one. They are looked up by the term, not searched: a reference page lists
        so many options that its words and title rank every one of them alike, and the named one's description
        often far below the ones scored (psql's "-a" at 278th); and on a site of many programs the same option
        describes something else on each program's page, of which the best ranked is the program asked
        about."""
        passages = self.index.passages
        rows = {
            row
            for word in _TERM_WORD.findall(question)
            for row in self._descriptions.get(word.rstrip("."), ())
            if _describes(question, self.index.documents[passages[row].document], self._block_of(row))
        }
        pages = {passages[row].document for row in rows}
        page = next((passages[c.passage].document for c in ranked if c.passage in rows), None) or next(
            (passages[c.passage].document for c in ranked if passages[c.passage].document in pages), None
        )
        on_page = {row for row in rows if passages[row].document == page}
        # as ranked where they are (a description takes the score of its term's window, ``_explained``)
        chosen = [candidate for candidate in ranked if candidate.passage in on_page]
        chosen += self.retriever.score(question, sorted(on_page - {c.passage for c in chosen}))
        return sorted(chosen, key=lambda candidate: -candidate.score)[:_NAMED_WINDOWS]

    @cached_property
    def _descriptions(self) -> dict[str, list[int]]:
        """The windows of each description under a term that looks like code, by each code-like word of the term
        ("-a" and "--echo-all" over psql's "Print all nonempty input lines …"). Read once, at the first question
        that names code."""
        descriptions: dict[str, list[int]] = {}
        for document, block, windows in self._prose_blocks():
            for term in document.terms_of(block):
                for word in _TERM_WORD.findall(document.block_text(term)):
                    if _CODE_LIKE.search(word):
                        descriptions.setdefault(word, []).extend(windows)
        return descriptions

    def _unit_vectors(
        self, rows: Sequence[int], units: Sequence[tuple[Span, ...]], texts: Sequence[str]
    ) -> np.ndarray:
        """Vectors of sentences and sentence pairs (``units``, of passages ``rows``, reading ``texts``): from the
        index's sentence vectors when it was built with them, otherwise encoded now, through the cache.

        A stored pair is the sum of its two sentence vectors weighted by the square root of their lengths, then
        normalised: the model mean-pools over tokens, so a longer sentence weighs more in the pair's own vector.
        On 600 SQuAD sentence pairs that sum is at cosine 0.959 to the encoded pair (0.949 unweighted)."""
        store, first = self.index.sentence_vectors, self.index.first_sentence
        if store is None or first is None:
            return self._span_vectors.encode(texts)
        passages = self.index.passages
        unit_rows = [
            [int(first[row]) + passages[row].sentences.index(span) for span in unit]
            for row, unit in zip(rows, units, strict=True)
        ]
        wanted = sorted({r for sentence_rows in unit_rows for r in sentence_rows})
        position = {r: n for n, r in enumerate(wanted)}
        found = np.asarray(store[wanted], dtype=np.float32)
        summed = np.stack(
            [
                sum(
                    found[position[r]] * np.sqrt(end - start)
                    for r, (start, end) in zip(sentence_rows, unit, strict=True)
                )
                for sentence_rows, unit in zip(unit_rows, units, strict=True)
            ]
        )
        normalised: np.ndarray = summed / np.linalg.norm(summed, axis=1, keepdims=True)
        return normalised

    def _quotes(
        self, ranked: list[_ScoredSpan], top_k: int, *, highlight: bool, related: Sequence[Candidate] = ()
    ) -> list[AnswerPassage]:
        """Best spans first, each quoted with its paragraph neighbours; when they run out before ``top_k``, the
        ``related`` windows whose sentences were not scored, whole and without a highlight. Overlaps and
        duplicates are dropped."""
        chosen: list[AnswerPassage] = []
        taken: list[tuple[str, int, int]] = []
        seen_texts: set[str] = set()

        def add(row: int, start: int, end: int, score: float, core: Sequence[Span]) -> None:
            passage = self.index.passages[row]
            document = self.index.documents[passage.document]
            text = document.text[start:end]
            key = " ".join(text.casefold().split())
            if key in seen_texts:
                return
            taken.append((document.id, start, end))
            seen_texts.add(key)
            highlights = (Highlight(core[0][0] - start, core[-1][1] - start),) if core else ()
            source = Source(document.id, document.title, passage.section, document.url, start, end)
            code = tuple(
                Highlight(max(block.start, start) - start, min(block.end, end) - start)
                for block in document.blocks_within(start, end)
                if block.kind == "code"
            )
            chosen.append(AnswerPassage(text, score, highlights, source, code))

        for span in ranked:
            if len(chosen) == top_k:
                return chosen
            doc_id = self.index.passages[span.row].document
            core = list(span.sentences)
            if any(_overlaps_quoted(taken, doc_id, sentence) for sentence in core):
                continue
            paragraph = self._paragraph_sentences(span.row)
            document = self.index.documents[doc_id]
            core = _completed(document, paragraph, core, taken)
            quote = self._widen(paragraph, [s for s in core if s in paragraph], taken, doc_id)
            start, end = quote[0][0], max(quote[-1][1], core[-1][1])
            start, end = _with_term(document, start, taken), _with_example(document, end, taken)
            add(span.row, start, end, span.score, core if highlight else [])
        for candidate in related:
            if len(chosen) == top_k:
                break
            passage = self.index.passages[candidate.passage]
            if not _overlaps_quoted(taken, passage.document, (passage.start, passage.end)):
                # after every scored span, whatever the scales of the two scores: best first stays true
                score = min(candidate.score, chosen[-1].score) if chosen else candidate.score
                add(candidate.passage, passage.start, passage.end, score, [])
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
        block = self._block_of(row)
        reach = self.settings.context_sentences + 2
        spans: set[Span] = set()
        for other in passages[max(0, row - reach) : row + reach + 1]:
            if other.document == passage.document and block.start <= other.start and other.end <= block.end:
                spans.update(other.sentences)
        return sorted(spans)


class _VectorCache:
    """Vectors of the texts quoted most recently: the same sentences come back for related questions, and
    encoding them is most of the time an answer takes. Bounded, and safe to share between threads."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], capacity: int = 20_000) -> None:
        self._encode = encode
        self._capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, self._encode(missing), strict=True))
        with self._lock:
            for text in texts:
                self._vectors[text] = known[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > self._capacity:
                self._vectors.popitem(last=False)
        return np.stack([known[t] for t in texts])


def _with_example(document: Document, end: int, taken: Sequence[tuple[str, int, int]]) -> int:
    """Where a quote ending at ``end`` should end: past the code block that follows when the quote ends with
    the sentence that introduces it ("…like this:"), so the example is quoted with its explanation."""
    block = document.block_at(end - 1)
    following = document.block_after(block)
    if (
        end == block.end
        and document.text[end - 1] == ":"
        and following is not None
        and following.kind == "code"
        and following.end - following.start <= _EXAMPLE_MAX_CHARS
        and not _overlaps_quoted(taken, document.id, (following.start, following.end))
    ):
        return following.end
    return end


def _completed(
    document: Document, paragraph: list[Span], core: list[Span], taken: Sequence[tuple[str, int, int]]
) -> list[Span]:
    """The answer whose best span is ``core`` (sentences of ``paragraph``): with the next sentence when that one
    points back to it (``_CONTINUES``), and with the list it introduces when it ends its paragraph with ":". A
    sentence scored alone is read by the model alone, so the half of an answer that a pronoun or a colon carries
    over scores low by itself; a reader needs both halves."""
    before = paragraph.index(core[0]) - 1
    if (
        len(core) == 1
        and before >= 0
        and _POINTS_BACK.match(document.text[core[0][0] : core[0][1]])
        and not _overlaps_quoted(taken, document.id, paragraph[before])
    ):
        core = [paragraph[before], *core]
    following = paragraph.index(core[-1]) + 1
    if (
        len(core) == 1
        and following < len(paragraph)
        and _CONTINUES.match(document.text[paragraph[following][0] : paragraph[following][1]])
        and not _overlaps_quoted(taken, document.id, paragraph[following])
    ):
        core = [*core, paragraph[following]]
    listed = _listed(document, core[-1][1], taken)
    return [*core, listed] if listed else core


def _listed(document: Document, end: int, taken: Sequence[tuple[str, int, int]]) -> Span | None:
    """The paragraphs of one short sentence (list items) that follow the paragraph ending at ``end`` with ":", as
    one span; None when it does not end so, or no such paragraph follows."""
    block = document.block_at(end - 1)
    if end != block.end or document.text[end - 1] != ":":
        return None
    items: list[Block] = []
    following = document.block_after(block)
    while (
        following is not None
        and following.kind == "paragraph"
        and following.end - following.start <= _LIST_ITEM_MAX_CHARS
        and following.end - (items[0].start if items else following.start) <= _LISTED_MAX_CHARS
        and len(split_sentences(document, following)) == 1
        and not _overlaps_quoted(taken, document.id, (following.start, following.end))
    ):
        items.append(following)
        following = document.block_after(following)
    return (items[0].start, items[-1].end) if items else None


def _with_term(document: Document, start: int, taken: Sequence[tuple[str, int, int]]) -> int:
    """Where a quote starting at ``start`` should start: at the terms of its paragraph when it starts with that
    paragraph, so that a description is quoted with what it describes ("--delete", "Note")."""
    block = document.block_at(start)
    terms = document.terms_of(block)
    if (
        not terms
        or document.text[block.start : start].strip()
        or _overlaps_quoted(taken, document.id, (terms[0].start, start))
    ):
        return start
    return terms[0].start


# What a term names: its words that look like code, an option ("-D", "--no-ff"), a setting ("core.autocrlf"), a
# placeholder ("<commit>"), a function ("json.dumps" of "json.dumps(obj, *, skipkeys=False)"). Not a word in
# capitals: in a question it is mostly an SQL keyword used in passing ("If I never type BEGIN, is each statement
# still run inside a transaction?" is not about the example under the term "BEGIN"), and in a caption an acronym
# ("NASS Election Cybersecurity Infographic").
_TERM_WORD = re.compile(r"[\w.<>/-]*\w[\w.<>/-]*")
_CODE_LIKE = re.compile(r"[-_.<>/]")
# The words of a question that asks only what a term it names does or means ("What does the -T option of createdb
# do?"), which the first sentence of the term's description answers.
_WORD = re.compile(r"[\w'.<>/-]*\w")
# fmt: off
_WHAT_IT_DOES = frozenset({
    "what", "what's", "whats", "does", "do", "is", "are", "the", "a", "an", "of", "in", "for", "to", "it", "its",
    "mean", "means", "meaning", "stand", "used", "use", "exactly", "actually",
    "option", "options", "flag", "switch", "parameter", "setting", "argument", "command", "program",
})
# fmt: on


def _names_code(question: str) -> bool:
    """Whether ``question`` holds a word that looks like code ("-T", "--depth", "shared_buffers"): only such a
    question can name a term (``names_term``)."""
    return any(_CODE_LIKE.search(word) for word in _TERM_WORD.findall(question))


def _asks_beyond_what_it_does(question: str, title: str) -> bool:
    """Whether ``question``, which names a term of the page titled ``title``, asks more than what the term does
    or means: a word besides the term's, the page's ("createdb", "git", "clone") and ``_WHAT_IT_DOES``.

    Example:
        >>> _asks_beyond_what_it_does("What does the --depth option of git clone do?", "git-clone(1)")
        False
        >>> _asks_beyond_what_it_does("What is the default value of work_mem?", "Resource Consumption")
        True
    """
    page = set(re.findall(r"\w+", title.lower()))
    return any(
        word not in _WHAT_IT_DOES and word not in page
        for word in _WORD.findall(question.lower())
        if not _CODE_LIKE.search(word)
    )


def _question_heading(document: Document, block: Block) -> str | None:
    """The heading over ``block`` when it is a question ("How do I copy a file?") and ``block`` the first prose
    under it (code and labels between them skipped), else None."""
    before = document.block_before(block)
    while before is not None and before.kind != "heading" and before.kind not in ANSWER_KINDS:
        before = document.block_before(before)
    if before is None or before.kind != "heading":
        return None
    heading = document.block_text(before).rstrip()
    return heading if heading.endswith("?") else None


def _describes(question: str, document: Document, block: Block) -> bool:
    """Whether ``block`` of ``document`` is a description whose term ``question`` names."""
    return block.kind in ANSWER_KINDS and any(
        names_term(question, document.block_text(term)) for term in document.terms_of(block)
    )


def names_term(question: str, term: str) -> bool:
    """Whether ``question`` names one of ``term``'s code-like words, exactly and whole: a question holding a
    plain word ("Note") or a word in capitals ("BEGIN") names nothing.

    Example:
        >>> names_term("What does git branch -D do?", "-D"), names_term("What does git branch -D do?", "-d")
        (True, False)
        >>> names_term("What is --verbose for?", "-v, --verbose"), names_term("Is this a note?", "Note")
        (True, False)
        >>> names_term("How do I use json.dumps?", "json.dumps(obj, *, skipkeys=False)")
        True
        >>> names_term("If I never type BEGIN, is it a transaction?", "BEGIN")
        False
    """
    return any(
        _CODE_LIKE.search(word) and re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", question)
        for word in _TERM_WORD.findall(term)
    )


def _overlaps_quoted(taken: Sequence[tuple[str, int, int]], doc_id: str, span: Span) -> bool:
    """Whether ``span`` of ``doc_id`` shares a character with a passage already quoted."""
    return any(d == doc_id and s < span[1] and span[0] < e for d, s, e in taken)


def resolve_query(question: str, history: Sequence[Turn]) -> str:
    """The question to search for: a question that leans on the conversation (few words of its own, a word
    pointing back, or an opening that carries it on: "And state legislators?") borrows the previous question's
    words; a question that stands on its own is left alone."""
    question = question.strip()
    earlier = [turn.content.strip() for turn in history if turn.role == "user" and turn.content.strip()]
    chain = [question]
    # a follow-up of a follow-up ("How do I get them back?" then "What if that gives me conflicts?") borrows
    # what the one it follows borrowed ("How do I temporarily put aside my uncommitted changes?")
    while earlier and len(chain) < _CHAINED and _leans_on_history(chain[0]):
        chain.insert(0, earlier.pop())
    return " ".join(chain)


def _leans_on_history(question: str) -> bool:
    words = [w.casefold() for w in _WORD.findall(question)]
    content = [w for w in words if len(w) > 3 and w not in _ANAPHORA and w not in _QUESTION_WORDS]
    return (
        len(content) <= 1
        or (bool(_ANAPHORA.intersection(words)) and len(content) <= 4)
        or bool(_CONTINUES_CONVERSATION.match(question))
    )


def _asked_acronym(question: str) -> str | None:
    """The acronym a question asks the meaning of ("What does WAL stand for?" -> "WAL"), else None."""
    if not _ASKS_MEANING.search(question):
        return None
    acronyms = _ACRONYM.findall(question)
    return acronyms[0] if len(acronyms) == 1 else None


def asked_term(question: str) -> tuple[str, re.Pattern[str]] | None:
    """The acronym whose meaning, or the term whose definition, ``question`` asks for, and what a text that
    answers it matches; None for any other question.

    Example:
        >>> term, answers = asked_term("What is a module?")
        >>> term, bool(answers.search("A module is a file containing Python definitions."))
        ('module', True)
        >>> bool(asked_term("What's a module?")[1].search("Such files are called modules."))
        True
        >>> term, answers = asked_term("What does WAL stand for?")
        >>> term, bool(answers.search("Write-Ahead Logging (WAL)")), bool(answers.search("WAL is fast."))
        ('WAL', True, False)
        >>> asked_term("What is a module for, and how do I write one?") is None
        True
        >>> asked_term("What does git rebase do?")[0], asked_term("What does git add -p do?")
        ('git rebase', None)
        >>> asked_term("What is VACUUM used for?")[0], asked_term("What's a tablespace for?")[0]
        ('VACUUM', 'tablespace')
        >>> asked_term("What does it do?") is None and asked_term("What is that?") is None
        True
        >>> [asked_term(q)[0] for q in ("What's a virtual environment, and why would I want one?",
        ...  "What is meant by a savepoint?", "What exactly is a namespace?", "What is Sphinx, basically?")]
        ['virtual environment', 'savepoint', 'namespace', 'Sphinx']
    """
    acronym = _asked_acronym(question)
    if acronym is not None:
        return acronym, _spelling_out(acronym)
    # "What does git rebase do?", "What is pg_restore used for?": an option ("What does git add -p do?") is a
    # named term's description
    option = any(word.startswith("-") for word in _TERM_WORD.findall(question))
    defined = None if option else _ASKS_WHAT_IT_DOES.match(question) or _ASKS_WHAT_FOR.match(question)
    defined = defined or _ASKS_DEFINITION.match(question)
    if (
        defined is None
        or defined.group(1).split()[-1].lower() in _NOT_A_TERM_END
        or defined.group(1).casefold() in _ANAPHORA  # "What is it?", "What does that do?": a follow-up's
    ):
        return None
    return defined.group(1), _defining(defined.group(1))


def bare_term(query: str) -> tuple[str, re.Pattern[str]] | None:
    """The term a query of one to three words that asks nothing names, and what a text that defines it matches;
    None for any other query. A query that leans on a conversation is not read so: "Lists?" after a question
    on dictionary keys asks about lists as keys.

    Example:
        >>> bare_term("savepoints")[0], bare_term("How do savepoints work?")
        ('savepoints', None)
    """
    bare = _BARE_TERM.fullmatch(query)
    return None if bare is None else (bare.group(1), _defining(bare.group(1)))


def _manual_name(document: Document, block: Block) -> str | None:
    """The command that ``block`` names when it is a manual page's NAME line, the paragraph right under a heading
    that opens with the command and a dash ("git-stash - Stash the changes …", "createdb — create a new
    PostgreSQL database"); else None."""
    if block.kind != "paragraph":
        return None
    before = document.block_before(block)
    named = _NAME_LINE.match(document.block_text(block))
    return named.group(1) if named and before is not None and before.kind == "heading" else None


def _entry_name(term: str) -> str:
    """``term`` as a glossary's entries are looked up by: without a trailing qualifier in brackets, casefolded
    and without a plural's "s" ("Window functions" and "Window function (routine)" are "window function"),
    unless it is in capitals: "TOAST" is an entry, "SEQUENCES" a keyword (a parameter of DISCARD), which
    "What is a sequence?" does not ask about.

    Example:
        >>> [_entry_name(t) for t in ("Window functions", "Window function (routine)", "TOAST", "SEQUENCES")]
        ['window function', 'window function', 'TOAST', 'SEQUENCES']
        >>> _entry_name("git-rebase") == _entry_name("git rebase")
        True
    """
    name = re.sub(r"\s*\([^()]*\)\s*$", "", term).strip().replace("-", " ")
    return name if name.isupper() else name.casefold().removesuffix("s")


def _spelling_out(acronym: str) -> re.Pattern[str]:
    """What a text that spells ``acronym`` out matches: "Write-Ahead Logging (WAL)", "WAL (Write-Ahead
    Logging)", "WAL stands for …"."""
    name = re.escape(acronym)
    return re.compile(
        rf"\w[\w-]*\s*\([^()]*\b{name}s?\s*\)|\b{name}\s*\(\s*[A-Z]\w|\b{name}\s+(?:stands|is short) for"
    )


def _defining(term: str) -> re.Pattern[str]:
    """What a text that defines ``term`` matches: "A module is a …", "A tuple consists of …", "… is called a
    module", "the … terminal program, called psql, which …", "… documentation string, or docstring", "a module,
    a …", a manual page's NAME line; and a sentence that opens with the term doing what it does ("Savepoints
    allow you to …", "A window function performs a calculation …", "lambda takes … and creates an anonymous
    function"): documentation defines a thing by its use as often as by its kind. "modules" and "module" alike,
    the term whole, and the term itself: at a clause's start, after an article or not ("… that an exception is
    a direct consequence of another" says what one exception is), not qualified ("The new tuple is a logically
    unchanged successor …" says what one tuple is, "… is called a table alias" names something else), and one
    of its kind ("The keys specify …" says what some keys do).

    Example:
        >>> defines = _defining("savepoint")
        >>> bool(defines.search("Savepoints allow you to selectively discard parts of the transaction."))
        True
        >>> bool(defines.search("After rolling back to a savepoint, it continues to be defined."))
        False
        >>> bool(_defining("tuple").search("The new tuple is a logically unchanged successor."))
        False
        >>> bool(_defining("sequence").search("A positive value will make an ascending sequence, a negative one …"))
        False
        >>> bool(_defining("schema").search("In PostgreSQL, a schema is essentially a namespace."))
        True
        >>> bool(_defining("table").search("This is called a table alias."))
        False
        >>> bool(_defining("key").search("The keys specify what the color is to be used for."))
        False
        >>> bool(_defining("stash").search("git-stash - Stash the changes in a dirty working directory away"))
        True
        >>> bool(_defining("git stash").search("git-stash - Stash the changes in a dirty working directory away"))
        True
        >>> bool(_defining("exception").search("Errors detected during execution are called exceptions and …"))
        True
        >>> bool(_defining("exception").search("To indicate that an exception is a direct consequence of another"))
        False
        >>> bool(_defining("docstring").search("this string literal is the function's documentation string, or docstring."))
        True
    """
    # "git stash" and "git-stash" name one command
    name = re.escape(term.removesuffix("s")).replace(r"\ ", r"[\s-]") + "s?"
    return re.compile(
        # a manual page's NAME line: "git-stash - Stash the changes …", "createdb — create a new PostgreSQL database"
        rf"^(?:[\w.]+-)?{name}\s+[-\u2013\u2014]\s+\w"
        rf"|(?:^|[.!?:,;]\s+)(?:an?\s+|the\s+)?{name}\s+"
        rf"(?:(?:is|are)\s+(?:an?|the|essentially|simply|just)\b|consists? of\b|refers? to\b)"
        rf"|\b(?:called|known\s+as)\s+(?:an?\s+|the\s+)?{name}(?=\s*[.,;:)]|\s*$|\s+{_CLAUSE_GOES_ON})"
        rf"|,\s+or\s+{name}(?=\s*[.,;:)]|\s*$)"
        rf"|\b(?:an?|the)\s+{name},\s+an?\b"
        rf"|(?:^|[.!?:]\s+)(?:an?\s+)?{name}\s+(?:{_DOES})\b",
        re.IGNORECASE,
    )


def _refusal_message(topics: Sequence[str]) -> str:
    message = "The documents I can quote from do not answer this question."
    if topics:
        listed = "; ".join(topics)
        # a topic that ends a sentence itself ("… in the U.S.?") takes no second full stop
        message += f" The nearest topics they cover: {listed}{'' if listed[-1] in '.?!' else '.'}"
    return message
