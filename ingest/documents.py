"""The document model: normalised text plus the structure (headings, paragraphs) found in it.

Every loader turns its format into a list of raw blocks and calls :func:`compose_document`, which normalises
each block once and joins them. The resulting ``Document.text`` is what is stored, served and what every
character offset in the index refers to.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

# A heading is never a passage: it becomes the section of the passages beneath it. Code keeps its line breaks. A
# label (a definition term, a caption, a link standing alone) and code are quoted beside the sentences around
# them but are never the highlighted answer on their own.
BlockKind = Literal["heading", "paragraph", "code", "label"]
ANSWER_KINDS = frozenset({"paragraph"})
# A paragraph describes the labels just before it (Document.terms_of), at most this many, each at most this long.
DESCRIBED_BY_LABELS = 3
TERM_MAX_CHARS = 300
# A label that ends a sentence is a pointer ("See also git-stash(1).") closing what came before it: it names
# nothing after it, as a term does.
_ENDS_SENTENCE = re.compile(r"[.!?][\"'\u201d\u2019)\]]*\s*$")

BLOCK_SEPARATOR = "\n\n"

# Characters that carry no text: soft hyphen, zero-width space/joiners used as invisible breaks, BOM.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
_WHITESPACE_RUN = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(raw: str) -> str:
    """Unicode NFC, control characters dropped, every run of whitespace (no-break spaces too) one space.

    Example:
        >>> normalize_text("  Caf\\u0065\\u0301\\u00a0 au\\n lait ")
        'Café au lait'
    """
    text = unicodedata.normalize("NFC", raw).translate(_INVISIBLE)
    text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc")
    # \s in Python matches U+00A0, U+2007, U+202F and the other Unicode spaces.
    return _WHITESPACE_RUN.sub(" ", text).strip()


def normalize_code(raw: str) -> str:
    """Like :func:`normalize_text`, but line breaks and indentation are kept (tabs as four spaces); trailing
    spaces, and blank lines at the ends or more than one in a row, are dropped.

    Example:
        >>> normalize_code("\\n\\nif x:\\n\\tgo()  \\n\\n\\n\\ndone\\n")
        'if x:\\n    go()\\n\\ndone'
    """
    text = unicodedata.normalize("NFC", raw).translate(_INVISIBLE).replace("\r\n", "\n").replace("\t", "    ")
    text = "".join(ch for ch in text if ch == "\n" or ch.isspace() or unicodedata.category(ch) != "Cc")
    lines = [re.sub(r"[^\S\n]", " ", line).rstrip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


@dataclass(frozen=True)
class Block:
    """A span of ``Document.text``: a heading (with its level, 1 = title), a paragraph, code or a label."""

    kind: BlockKind
    start: int
    end: int
    level: int = 0


@dataclass(frozen=True)
class Document:
    """One source document after normalisation. ``text[block.start:block.end]`` is each block's text."""

    id: str
    title: str
    text: str
    blocks: tuple[Block, ...]
    url: str | None = None
    source: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that ends up in the index changes (text, structure, title, url)."""
        payload = json.dumps(
            [self.title, self.url, self.text, [(b.kind, b.start, b.end, b.level) for b in self.blocks]],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def block_text(self, block: Block) -> str:
        return self.text[block.start : block.end]

    def block_at(self, offset: int) -> Block:
        """The block holding character ``offset``: the last one that starts at or before it (binary search)."""
        return self.blocks[bisect.bisect_right(self.blocks, offset, key=lambda block: block.start) - 1]

    def blocks_within(self, start: int, end: int) -> list[Block]:
        """The blocks that share a character with ``text[start:end]``, in order."""
        first = bisect.bisect_right(self.blocks, start, key=lambda block: block.start) - 1
        last = bisect.bisect_left(self.blocks, end, key=lambda block: block.start)
        return [block for block in self.blocks[max(first, 0) : last] if block.end > start]

    def block_after(self, block: Block) -> Block | None:
        """The block that follows ``block``, or None after the last."""
        following = bisect.bisect_right(self.blocks, block.start, key=lambda other: other.start)
        return self.blocks[following] if following < len(self.blocks) else None

    def described(self, start: int, end: int) -> str:
        """``text[start:end]`` as the model and BM25 read it: after the terms its paragraph describes, so that a
        description is found by what it describes ("--depth <depth>: Create a shallow clone …")."""
        terms = self.terms_of(self.block_at(start))
        return ": ".join([*(self.block_text(term) for term in terms), self.text[start:end]])

    def terms_of(self, block: Block) -> list[Block]:
        """The labels just before ``block`` that it describes, in order: a definition's terms ("-d", "--delete"
        before "Delete a branch."), an admonition's title ("Note"), up to a pointer that ends a sentence. None
        when they are more than ``DESCRIBED_BY_LABELS`` (a list of links) or one is longer than
        ``TERM_MAX_CHARS`` (a signature)."""
        labels: list[Block] = []
        before = self.block_before(block)
        while (
            before is not None
            and before.kind == "label"
            and len(labels) <= DESCRIBED_BY_LABELS
            and not _ENDS_SENTENCE.search(self.block_text(before))
        ):
            labels.append(before)
            before = self.block_before(before)
        if len(labels) > DESCRIBED_BY_LABELS or any(
            label.end - label.start > TERM_MAX_CHARS for label in labels
        ):
            return []
        return labels[::-1]

    def block_before(self, block: Block) -> Block | None:
        """The block that precedes ``block``, or None before the first."""
        here = bisect.bisect_left(self.blocks, block.start, key=lambda other: other.start)
        return self.blocks[here - 1] if here > 0 else None


@dataclass(frozen=True)
class RawBlock:
    """A block as a loader found it, before normalisation."""

    kind: BlockKind
    text: str
    level: int = 0


def compose_document(
    *,
    id: str,
    title: str | None,
    raw_blocks: Iterable[RawBlock],
    url: str | None = None,
    source: str = "",
    metadata: Mapping[str, str] | None = None,
) -> Document:
    """Normalise each block and join them with blank lines; blocks empty after normalisation are dropped.

    Without a title, the first level-1 heading (else the first heading, else the id) becomes the title.

    Example:
        >>> doc = compose_document(id="d", title=None, raw_blocks=[RawBlock("heading", "Hi", 1),
        ...                        RawBlock("paragraph", " Some  text. ")])
        >>> doc.title, doc.text, doc.block_text(doc.blocks[1])
        ('Hi', 'Hi\\n\\nSome text.', 'Some text.')
    """
    parts: list[str] = []
    blocks: list[Block] = []
    offset = 0
    for raw in raw_blocks:
        text = normalize_code(raw.text) if raw.kind == "code" else normalize_text(raw.text)
        if not text.strip():
            continue
        if parts:
            offset += len(BLOCK_SEPARATOR)
        blocks.append(Block(raw.kind, offset, offset + len(text), raw.level))
        parts.append(text)
        offset += len(text)
    full_text = BLOCK_SEPARATOR.join(parts)
    if not title:
        headings = [b for b in blocks if b.kind == "heading"]
        first = next((b for b in headings if b.level == 1), headings[0] if headings else None)
        title = full_text[first.start : first.end] if first else id
    return Document(
        id=id,
        title=normalize_text(title) or id,
        text=full_text,
        blocks=tuple(blocks),
        url=url or None,
        source=source,
        metadata=dict(metadata or {}),
    )
