"""Structure-aware chunking: a document's paragraphs become passages of whole sentences.

Headings are not passages; they become the ``section`` of the passages beneath them. A paragraph is split
into sentences with a real sentence splitter (sentencex), or into its items when it is a row of titles written
on one line (``a | b | c``, :func:`title_row`). Passages are windows of whole sentences inside one paragraph, and
always satisfy ``document.text[passage.start:passage.end] == passage.text``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import sentencex

from ingest.documents import Block, Document

# A row of titles separated by " | " ("RELATED: NASS Letter to Twitter … (March 2019) | NASS Letter to Facebook …"):
# a web page's related links, breadcrumbs or footer as they read once copied as text.
_ROW_SEPARATOR = re.compile(r"\s\|\s")
_ROW_ITEM_MAX_CHARS = 300
_SENTENCE_END = (".", "!", "?", ":", ";")


@dataclass(frozen=True)
class ChunkingConfig:
    """How passages are cut. Stored in the index manifest: changing it re-embeds everything."""

    max_sentences: int = 3
    overlap_sentences: int = 1
    max_chars: int = 1000
    language: str = "en"

    def __post_init__(self) -> None:
        if self.max_sentences < 1 or not 0 <= self.overlap_sentences < self.max_sentences:
            raise ValueError("need max_sentences >= 1 and 0 <= overlap_sentences < max_sentences")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


Span = tuple[int, int]


@dataclass(frozen=True)
class Passage:
    """A window of whole sentences of one paragraph; offsets are into the document's text."""

    document: str
    start: int
    end: int
    text: str
    section: str | None
    sentences: tuple[Span, ...]


def chunk_document(document: Document, config: ChunkingConfig | None = None) -> list[Passage]:
    """Cut a document into passages.

    Example:
        >>> from ingest.documents import RawBlock, compose_document
        >>> doc = compose_document(id="d", title="T", raw_blocks=[RawBlock("heading", "Intro", 2),
        ...     RawBlock("paragraph", "One. Two. Three. Four.")])
        >>> [(p.section, p.text) for p in chunk_document(doc)]
        [('Intro', 'One. Two. Three.'), ('Intro', 'Three. Four.')]
    """
    config = config or ChunkingConfig()
    passages: list[Passage] = []
    section: str | None = None
    for block in document.blocks:
        if block.kind == "heading":
            heading = document.block_text(block)
            section = None if heading == document.title else heading
            continue
        if block.kind == "code":
            windows = [[lines] for lines in _code_pieces(document, block, config.max_chars)]
        elif block.kind == "label":
            windows = [[(block.start, block.end)]]
        else:
            items = title_row(document, block)
            sentences = _bounded(
                document.text, split_sentences(document, block, config.language), config.max_chars
            )
            windows = [[item] for item in items] or _windows(sentences, config)
        for window in windows:
            start, end = window[0][0], window[-1][1]
            passages.append(
                Passage(document.id, start, end, document.text[start:end], section, tuple(window))
            )
    return passages


def split_sentences(document: Document, block: Block, language: str = "en") -> list[Span]:
    """Sentence spans of one block, absolute offsets, with surrounding whitespace trimmed.

    A sentence ends only where white space follows: sentencex also cuts after a full stop inside a name
    ("set up branch.<name>.remote and …"), which documentation writes often. Nor does a sentence end at a "?"
    or "!" that a lowercase word follows: that mark ends the title of a linked page inside the sentence ("See How
    can I create a stand-alone binary from a Python script? for a list of tools …")."""
    text = document.block_text(block)
    spans: list[Span] = []
    for boundary in sentencex.get_sentence_boundaries(language, text):
        span = _trimmed(text, boundary["start_index"], boundary["end_index"])
        if not span:
            continue
        start, end = block.start + span[0], block.start + span[1]
        inside_title = (
            bool(spans) and document.text[spans[-1][1] - 1] in "?!" and document.text[start].islower()
        )
        if spans and (spans[-1][1] == start or inside_title):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans or [(block.start, block.end)]


def _bounded(text: str, sentences: list[Span], max_chars: int) -> list[Span]:
    """``sentences`` with each one longer than ``max_chars`` cut into pieces of at most that many characters,
    at the last clause break (``;``, ``:``, ``,``) before the limit, else the last space, else at the limit: a
    run-on "sentence" of megabytes must not become one passage, one answer and one logged record."""
    bounded: list[Span] = []
    for start, end in sentences:
        while end - start > max_chars:
            window = text[start : start + max_chars]
            cut = max(window.rfind(mark) for mark in ("; ", ": ", ", "))
            if cut < max_chars // 2:
                cut = window.rfind(" ")
            cut = start + (cut + 1 if cut > 0 else max_chars)
            if piece := _trimmed(text, start, cut):
                bounded.append(piece)
            start = cut
        if piece := _trimmed(text, start, end):
            bounded.append(piece)
    return bounded


def _code_pieces(document: Document, block: Block, max_chars: int) -> list[Span]:
    """A code block whole, or cut between lines into pieces of at most ``max_chars`` (a longer line alone):
    code is not prose, so it is never split into sentences."""
    pieces: list[Span] = []
    offset = block.start
    for line in document.block_text(block).split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        if pieces and end - pieces[-1][0] <= max_chars:
            pieces[-1] = (pieces[-1][0], end)
        else:
            pieces.append((start, end))
    return [span for piece in pieces if (span := _trimmed(document.text, *piece))]


def title_row(document: Document, block: Block) -> list[Span]:
    """The items of ``block`` when it is a row of titles separated by " | " (at least two, none longer than 300
    characters); else an empty list. Prose that pipes commands ("Count them with ls | wc -l.") ends like a
    sentence and is not a row.

    Example:
        >>> from ingest.documents import RawBlock, compose_document
        >>> doc = compose_document(id="d", title="T", raw_blocks=[RawBlock("paragraph", "RELATED: A (2017) | B")])
        >>> [doc.text[start:end] for start, end in title_row(doc, doc.blocks[0])]
        ['RELATED: A (2017)', 'B']
    """
    text = document.block_text(block)
    if text.endswith(_SENTENCE_END):
        return []
    bounds = [0, *[edge for cut in _ROW_SEPARATOR.finditer(text) for edge in cut.span()], len(text)]
    items = [_trimmed(text, bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
    spans = [(block.start + s[0], block.start + s[1]) for s in items if s]
    if len(spans) < 2 or any(end - start > _ROW_ITEM_MAX_CHARS for start, end in spans):
        return []
    return spans


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def _windows(units: list[Span], config: ChunkingConfig) -> list[list[Span]]:
    """Consecutive windows of at most ``max_sentences`` units and ``max_chars`` characters (a single longer
    sentence stands alone), each starting ``overlap_sentences`` before the previous one ended."""
    windows: list[list[Span]] = []
    first = 0
    while first < len(units):
        last = first + 1
        while (
            last < len(units)
            and last - first < config.max_sentences
            and units[last][1] - units[first][0] <= config.max_chars
        ):
            last += 1
        windows.append(units[first:last])
        if last == len(units):
            break
        first = max(first + 1, last - config.overlap_sentences)
    return windows
