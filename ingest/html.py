"""The main content of an HTML page as blocks, through trafilatura: no navigation, sidebars or footers.

trafilatura (https://trafilatura.readthedocs.io) finds the main text of real-world pages and drops their chrome.
Before it runs, two habits of documentation generators that it would otherwise misread are undone: headings
wrapped in containers of their own (DocBook's ``div.titlepage``), which it drops with the wrapper, and
permalink marks inside headings (Sphinx's ``¶``, Docusaurus' ``#``), which it would keep as text. Its output
tree then becomes :class:`RawBlock` s: headings, paragraphs, list items, table rows, code blocks (line breaks
kept), and labels (definition terms, captions, list items that are only a link), which are text a reader sees
but never an answer on their own.
"""

from __future__ import annotations

import logging
import re

import lxml.html
import trafilatura
from lxml.etree import ParserError, _Element
from trafilatura.settings import use_config

from ingest.documents import RawBlock

logger = logging.getLogger(__name__)

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Wrappers a generator puts around a lone heading; a heading alone in them is lifted out.
_HEADING_WRAPPERS = {"div", "header", "hgroup", "span", "section"}
# Permalink marks that generators put in headings: text a reader never reads as part of the heading.
_PERMALINK_MARK = re.compile(r"^[\s¶#§🔗]*$")
# Page regions by ARIA role that are never main content.
_CHROME_ROLES = ("navigation", "banner", "contentinfo", "complementary", "search", "menubar", "toolbar")
_BLOCK_TAGS = {"p", "list", "table", "quote", "head", "div", "item"}
# Below this many characters trafilatura replaces its extraction by a flat text of the whole page (chrome and
# all); a short documentation page is still a page with structure.
_SETTINGS = use_config()
_SETTINGS.set("DEFAULT", "MIN_EXTRACTED_SIZE", "0")


def html_blocks(data: bytes | str) -> tuple[list[RawBlock], lxml.html.HtmlElement | None]:
    """The main content of a page as raw blocks, and the parsed page (for its title and URL), or ``None``
    when the bytes are not an HTML document at all.

    Example:
        >>> page = ("<html><body><nav><a href='/'>Home</a> | <a href='/a'>About</a></nav><main>"
        ...         "<div class='titlepage'><h2>Poll Hours<a class='headerlink' href='#h'>¶</a></h2></div>"
        ...         "<p>Polls open at 7 a.m. and close at 8 p.m. on election day in every county.</p>"
        ...         "<pre>vote --early\\n  --county Kent</pre></main></body></html>")
        >>> [(b.kind, b.text) for b in html_blocks(page)[0]]
        [('heading', 'Poll Hours'), ('paragraph', 'Polls open at 7 a.m. and close at 8 p.m. on election day in every county.'), ('code', 'vote --early\\n  --county Kent')]
    """
    try:
        page = lxml.html.document_fromstring(data)
    except (ParserError, ValueError):
        return [], None
    extraction = trafilatura.bare_extraction(
        _prepared(page),
        favor_recall=True,
        include_comments=False,
        include_tables=True,
        include_formatting=True,
        include_links=True,
        with_metadata=False,
        config=_SETTINGS,
    )
    body = getattr(extraction, "body", None)
    if body is None:
        return [], page
    blocks: list[RawBlock] = []
    _collect(body, blocks)
    return blocks, page


def _prepared(page: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """A copy of ``page`` with lone headings lifted out of their wrappers, permalink marks and ARIA chrome
    removed, and every ``<pre>`` holding ``<code>``."""
    tree = lxml.html.fromstring(lxml.html.tostring(page))
    for element in list(tree.iter(*_HEADINGS)):
        for link in element.iter("a"):
            if link is not element and _PERMALINK_MARK.match(link.text_content() or ""):
                _drop(link)
        outer = element
        while (parent := outer.getparent()) is not None and parent.tag in _HEADING_WRAPPERS:
            if _squashed(parent.text_content()) != _squashed(element.text_content()):
                break
            outer = parent
        if outer is not element:
            element.tail = outer.tail
            outer.getparent().replace(outer, element)
    for pre in tree.iter("pre"):
        # trafilatura reads a <pre> as code only when it holds <code> (or says so in its class)
        if pre.find(".//code") is None:
            code = lxml.html.Element("code")
            code.text, pre.text = pre.text, None
            code.extend(list(pre))
            pre.append(code)
    roles = " or ".join(f"@role='{role}'" for role in _CHROME_ROLES)
    for element in tree.xpath(f"//*[{roles} or @aria-hidden='true']"):
        if element.getparent() is not None:
            _drop(element)
    return tree


def _drop(element: _Element) -> None:
    """Remove ``element`` but keep the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail or ""
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(element)


def _squashed(text: str) -> str:
    return " ".join(text.split())


def _collect(element: _Element, blocks: list[RawBlock]) -> None:
    """trafilatura's output tree (``head``, ``p``, ``list``/``item``, ``table``/``row``/``cell``, ``code``,
    ``quote``) in document order, as raw blocks: each block element on its own, and each run of text and inline
    elements between them as a paragraph (a label when the run is one link and nothing else)."""
    run: list[str] = [element.text or ""]
    links: list[_Element] = []

    def end_run() -> None:
        text = "".join(run)
        if text.strip():
            only_a_link = len(links) == 1 and _squashed(_text(links[0])) == _squashed(text)
            blocks.append(RawBlock("label" if only_a_link else "paragraph", text))
        run.clear()
        links.clear()

    for child in element:
        if _is_block(child):
            end_run()
            _block(child, blocks)
        elif child.tag == "lb":
            run.append(" ")
        elif child.tag != "graphic":
            run.append(_text(child))
            links.extend(child.iter("ref"))
        run.append(child.tail or "")
    end_run()


def _block(element: _Element, blocks: list[RawBlock]) -> None:
    tag = element.tag
    if tag == "head":
        rend = str(element.get("rend") or "h2")
        blocks.append(
            RawBlock("heading", _text(element), int(rend[1]) if re.fullmatch(r"h[1-6]", rend) else 2)
        )
    elif tag == "code":
        blocks.append(RawBlock("code", "".join(element.itertext())))
    elif tag == "table":
        for row in element.iter("row"):
            cells = [_squashed(_text(cell)) for cell in row.iter("cell")]
            blocks.append(RawBlock("paragraph", " | ".join(cell for cell in cells if cell)))
    elif tag == "list":
        for item in element.iter("item"):
            if item.getparent() is not element:
                continue
            if str(item.get("rend") or "").startswith("dt"):
                blocks.append(RawBlock("label", _text(item)))
            else:
                _collect(item, blocks)
    else:
        _collect(element, blocks)


def _is_block(element: _Element) -> bool:
    """Whether an element of trafilatura's output stands as a block rather than inline in a sentence; code
    does when it is a ``<pre>`` or fills its paragraph alone."""
    if element.tag != "code":
        return element.tag in _BLOCK_TAGS
    parent = element.getparent()
    return (
        parent is None
        or (not (parent.text or "").strip() and not (element.tail or "").strip() and len(parent) == 1)
        or "\n" in "".join(element.itertext()).strip()
    )


def _text(element: _Element) -> str:
    """The text of an element, a line break read as a space."""
    parts: list[str] = []
    if element.text:
        parts.append(element.text)
    for child in element:
        parts.append(" " if child.tag == "lb" else _text(child))
        if child.tail:
            parts.append(child.tail)
    return "".join(parts)
