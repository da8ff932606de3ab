"""The main content of an HTML page as blocks, through trafilatura: no navigation, sidebars or footers.

trafilatura (https://trafilatura.readthedocs.io) finds the main text of real-world pages and drops their chrome.
Before it runs, what it would keep or misread is undone (:func:`_prepared`): permalink marks, text for screen
readers only, tables of contents, badges, ARIA navigation and dialogs, empty anchors, headings wrapped in
containers of their own (DocBook's ``div.titlepage``), inline code it would cut out of its sentence; and what it
would drop though it is text: footnotes (docutils' ``<aside>``), sections whose id, made of their heading's words,
holds one it reads as furniture ("…-unrelated-exceptions"), sentences that are mostly cross-references. Its output
tree then becomes :class:`RawBlock` s: headings, paragraphs, list items, table rows, code blocks (line breaks
kept), and labels (definition terms, list items that are only a link), which a reader sees but which are never
an answer on their own. Where it still drops a page's headings, they are put back (:func:`_with_headings_of`).
"""

from __future__ import annotations

import itertools
import logging
import re

import lxml.etree
import lxml.html
import trafilatura
from lxml.etree import ParserError, _Element
from trafilatura.settings import use_config

from ingest.documents import RawBlock

logger = logging.getLogger(__name__)
# trafilatura warns "discarding data: None" for a page it finds no main text in, naming no page; the ingest report
# names that page and says why it was skipped (ingest.loaders), so its warning would only repeat it, unnamed.
logging.getLogger("trafilatura").setLevel(logging.ERROR)

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Wrappers a generator puts around a lone heading; a heading alone in them is lifted out.
_HEADING_WRAPPERS = {"div", "header", "hgroup", "span", "section"}
# Page regions by ARIA role that are never main content.
_CHROME_ROLES = (
    "navigation", "banner", "contentinfo", "complementary", "search", "menubar", "toolbar", "dialog", "alertdialog",
)  # fmt: skip
# ARIA roles of footnotes and endnotes (docutils writes its footnotes as <aside role="note">).
_FOOTNOTE_ROLES = {"note", "doc-footnote", "doc-endnote", "doc-endnotes"}
# Class or id names of page furniture, whole; then parts of class names.
_CHROME_NAMES = {
    "toc", "badge", "sr-only", "visually-hidden", "screen-reader-text", "skip-link", "breadcrumb", "breadcrumbs",
    "edit-this-page", "cookie-banner", "cookie-notice", "cookie-consent",
}  # fmt: skip
_CHROME_NAME_PARTS = (
    "table-of-contents", "tableofcontents", "visually-hidden", "cookie-", "cookiebanner", "cookieconsent",
    "breadcrumb",
)  # fmt: skip
# The title of an admonition or a topic box, by its class: Sphinx, MkDocs Material and Furo write
# <p class="admonition-title">, Docusaurus a <div class="admonitionHeading_…">.
_BOX_TITLE_NAMES = {"admonition-title", "topic-title", "sidebar-title"}
_BOX_TITLE_PREFIX = "admonitionHeading"
_BOX_BLOCK_TAGS = {"p", "div", "pre", "ul", "ol", "dl", "table"}
# Permalinks that generators put in headings and captions (Sphinx's ¶, Docusaurus' #), by class or by their text.
_PERMALINK_NAMES = {"headerlink", "hash-link", "anchor", "anchorjs-link"}
_PERMALINK_MARK = re.compile(r"^[\s¶#§🔗]*$")
_INLINE_CODE = ("code", "tt", "kbd", "samp", "var")
# trafilatura's output: the elements that stand as blocks, and those in which code may sit inside a sentence.
_BLOCK_TAGS = {"p", "list", "table", "quote", "head", "div", "item"}
_INLINE_PARENTS = {"p", "head", "hi", "ref", "cell", "item", "quote"}
# A paragraph with at least this many words outside its links is a sentence, whatever its links.
_PROSE_WORDS = 3
# The only words beside its links of a paragraph that points elsewhere ("See also json and pickle.").
_POINTING_WORDS = frozenset({"see", "also", "refer", "to", "cf", "and", "or", "the", "section", "chapter"})
# At most this many words, ending no sentence, make a caption rather than a paragraph.
_CAPTION_WORDS = 3
# Marks where a heading starts in a page's text while its headings are put back (a character no page holds).
_HEADING_MARK = "\x00"
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
    prepared = _prepared(page)
    extraction = trafilatura.bare_extraction(
        prepared,
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
    return _with_headings_of(prepared, blocks), page


def generated_page(page: lxml.html.HtmlElement) -> str | None:
    """What ``page`` is when a documentation generator made it from the other pages (the site's search page, its
    general index, an index of its terms or modules), which hold no text of their own; None for any other page.
    A page that links to itself as the site's search page or index says so (Sphinx writes ``<link rel="search"
    href="#">`` on its search page, ``<link rel="index" href="#">`` on its general index). Indexes of terms and
    modules are Sphinx's ``<table class="indextable">`` and DocBook's ``<div class="indexdiv">`` (one a letter).

    Example:
        >>> head = "<html><head><link rel='index' href='genindex.html'><link rel='search' href='{}'></head>"
        >>> page = head + "<body><p>Type words to search for.</p></body></html>"
        >>> generated_page(lxml.html.document_fromstring(page.format("#")))
        'the search page'
        >>> generated_page(lxml.html.document_fromstring(page.format("search.html"))) is None
        True
    """
    for rel, what in (("search", "the search page"), ("index", "the general index")):
        if page.xpath(f"//link[@rel='{rel}' and (@href='#' or @href='')]"):
            return what
    if page.xpath(f"//table[{_has_class('indextable')}] | //div[{_has_class('indexdiv')}]"):
        return "an index of terms or modules"
    return None


def _has_class(name: str) -> str:
    """An XPath condition: the element's class attribute lists ``name``."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _prepared(page: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """A copy of ``page`` without the chrome that trafilatura keeps (permalink marks, screen-reader-only text,
    tables of contents, badges, ARIA navigation and dialogs), with lone headings lifted out of their wrappers
    and every ``<pre>`` holding ``<code>`` with its line breaks as text."""
    tree = lxml.html.fromstring(lxml.html.tostring(page))
    roles = " or ".join(f"@role='{role}'" for role in _CHROME_ROLES)
    for element in tree.xpath(f"//*[{roles} or @aria-hidden='true' or @aria-modal='true']"):
        if element.getparent() is not None:
            element.drop_tree()
    for element in list(tree.iter()):
        if element.getparent() is not None and _is_chrome(element):
            element.drop_tree()
    _lift_manual_name(tree)
    for aside in tree.iter("aside"):
        if _is_footnote(aside):
            aside.tag = "div"  # trafilatura drops every <aside>, and docutils writes its footnotes as asides
            for label in aside.find_class("label"):
                # "[1]" as a paragraph of its own (a label, then): trafilatura drops the text around "[<a>1</a>]"
                mark = _squashed(label.text_content())
                for child in list(label):
                    label.remove(child)
                label.text, label.tag = mark, "p"
    for title in [element for element in tree.iter() if _is_box_title(element)]:
        # a box's title names what the box is about ("How to generate good secret keys") and says nothing of
        # it: a label over the box's text, as a definition list's term is over its description
        terms = lxml.html.Element("dl")
        lxml.etree.SubElement(terms, "dt").text = _squashed(title.text_content())
        terms.tail = title.tail
        title.getparent().replace(title, terms)
    for heading in tree.iter(*_HEADINGS):
        section = heading.getparent()
        if section is not None and _named_after(section.get("id") or "", heading.text_content()):
            # docutils names a section after its heading ("…-unrelated-exceptions", "sharing-…"); trafilatura
            # reads such words in an id ("related", "shar", "nav", "comment") as furniture and drops the section
            del section.attrib["id"]
    for element in list(tree.iter(*_HEADINGS)):
        outer = element
        while (parent := outer.getparent()) is not None and parent.tag in _HEADING_WRAPPERS:
            if _squashed(parent.text_content()) != _squashed(element.text_content()):
                break
            outer = parent
        if outer is not element and outer.getparent() is not None:
            element.tail = outer.tail
            outer.getparent().replace(outer, element)
    for pre in tree.iter("pre"):
        for br in pre.iter("br"):
            br.tail = "\n" + (br.tail or "")
        lxml.etree.strip_elements(pre, "br", with_tail=False)
        # trafilatura reads a <pre> as code only when it holds one <code> (or says so in its class)
        if not (len(pre) == 1 and pre[0].tag == "code" and not (pre.text or "").strip()):
            code = lxml.html.Element("code")
            code.text, pre.text = pre.text, None
            code.extend(list(pre))
            pre.append(code)
    for code in list(tree.iter(*_INLINE_CODE)):
        parent = code.getparent()
        if parent is None or parent.tag != "pre":
            code.tag = "span"  # code inside a sentence is part of the sentence: trafilatura would cut it out
    for link in list(tree.iter("a")):
        if not link.text_content().strip() and link.getparent() is not None:
            link.drop_tree()  # an empty anchor (DocBook's index terms): trafilatura would wrap the text after it
    for paragraph in tree.iter("p"):
        links = list(paragraph.iter("a"))
        prose = _outside_links(paragraph.text_content(), [link.text_content() for link in links])
        if links and len(re.findall(r"\w+", prose)) >= _PROSE_WORDS:  # words: "See also ." is a pointer
            for link in links:
                # cross-references in a sentence ("Wraps filter() usage in a list call."): trafilatura drops a
                # paragraph that is mostly link text as a list of links
                link.drop_tag()
    return tree


def _lift_manual_name(tree: lxml.html.HtmlElement) -> None:
    """AsciiDoc writes a manual page's NAME section, the command and what it does in one line ("git-stash - Stash
    the changes in a dirty working directory away"), inside the page's ``<div id="header">`` beside the title;
    trafilatura drops a header as page furniture. The section is moved to the start of the content."""
    for header in tree.xpath(f"//body[{_has_class('manpage')}]/div[@id='header']"):
        content = header.getnext()
        section = header.xpath(f"h2[following-sibling::*[1][self::div[{_has_class('sectionbody')}]]]")
        if content is None or content.get("id") != "content" or not section:
            continue
        name = lxml.html.Element("div", {"class": "sect1"})
        name.extend([section[0], section[0].getnext()])
        content.insert(0, name)


def _is_box_title(element: _Element) -> bool:
    """Whether ``element`` is an admonition's or a topic box's title (``_BOX_TITLE_NAMES``), with no blocks
    of its own inside."""
    if not isinstance(element.tag, str) or element.getparent() is None:
        return False
    classes = str(element.get("class") or "").split()
    if not (_BOX_TITLE_NAMES.intersection(classes) or any(c.startswith(_BOX_TITLE_PREFIX) for c in classes)):
        return False
    return not any(
        isinstance(child.tag, str) and child.tag in _BOX_BLOCK_TAGS for child in element.iterdescendants()
    )


def _with_headings_of(page: lxml.html.HtmlElement, blocks: list[RawBlock]) -> list[RawBlock]:
    """``blocks`` with the page's headings that trafilatura dropped put back where they stand between them.

    Where trafilatura finds no content container (DocBook's nested ``div.sect1``) it collects the text of the
    whole page and leaves out every heading; on other pages it keeps some and drops others (PostgreSQL's
    reference pages lose "Description", "Parameters", "Notes"). Each block is found in the page's text by its
    first characters; a heading it kept, by its own text among the page's headings; the headings met between
    one block and the next are put before the next. Before the first block only the nearest one is, and none
    when that block is a heading: earlier headings there belong to the chrome, as do those after the last."""
    pieces: list[str] = []
    found_headings: list[RawBlock] = []

    def walk(element: _Element) -> None:
        if isinstance(element.tag, str) and element.tag in _HEADINGS:
            text = _squashed(element.text_content())
            found_headings.append(RawBlock("heading", text, int(element.tag[1])))
            pieces.append(f" {_HEADING_MARK}{text} ")
        elif isinstance(element.tag, str) and element.tag not in ("script", "style", "noscript", "template"):
            pieces.append(element.text or "")
            for child in element:
                walk(child)
        pieces.append(element.tail or "")

    walk(page)
    segments = _squashed("".join(pieces)).split(_HEADING_MARK)
    stream = "".join(segments)
    marks = list(itertools.accumulate(len(segment) for segment in segments[:-1]))
    headings = list(zip(marks, found_headings, strict=True))
    placed: list[RawBlock] = []
    searched_from, pending = 0, 0  # where the previous block was found; the first heading not yet placed
    after_found = None  # where in ``placed`` the last block found ends: blocks not found (a term whose
    # parts the page runs together) stay with it, before the headings met on the way to the next one found
    for block in blocks:
        text = _squashed(block.text)
        own = None
        if block.kind == "heading":
            own = next((i for i in range(pending, len(headings)) if headings[i][1].text == text), None)
        found = headings[own][0] if own is not None else _locate(text, stream, searched_from)
        if found is None:
            placed.append(block)
            continue
        met = [heading for mark, heading in headings[pending:own] if mark <= found]
        pending += len(met) + (own is not None)
        at = len(placed) if after_found is None else after_found
        placed[at:at] = met if after_found is not None else [] if own is not None else met[-1:]
        searched_from = found
        placed.append(block)
        after_found = len(placed)
    return placed


def _locate(text: str, stream: str, start: int) -> int | None:
    """Where ``text`` starts in ``stream``, at or after ``start``: by its first 200 characters anywhere ahead
    (long enough to tell repeated code examples apart), else by its first 40 close ahead."""
    for length, reach in ((200, len(stream)), (40, 3000)):
        key = text[:length]
        found = stream.find(key, start, start + reach + len(key)) if key else -1
        if found >= 0:
            return found
    return None


def _is_chrome(element: _Element) -> bool:
    """Page furniture by its class (whole names or parts of one) or its id (whole names only: an id names
    content as often as furniture, ``<section id="cookies">`` in a web framework's guide): permalink marks, text
    for screen readers only, tables of contents, badges, breadcrumbs, cookie banners."""
    if not isinstance(element.tag, str):
        return False
    classes = set((element.get("class") or "").lower().split())
    names = classes | {(element.get("id") or "").lower()}
    if element.tag == "a" and (
        names & _PERMALINK_NAMES
        or (
            (element.get("href") or "").startswith("#")
            and _PERMALINK_MARK.match(element.text_content() or "")
        )
    ):
        return True
    return bool(names & _CHROME_NAMES) or any(part in name for name in classes for part in _CHROME_NAME_PARTS)


def _named_after(name: str, heading: str) -> bool:
    """Whether an id is made of the words of a heading (a section's anchor), as docutils and most site
    generators make them.

    Example:
        >>> _named_after("sharing-a-repository", "3.2. Sharing a Repository¶"), _named_after("comments", "Reply")
        (True, False)
    """
    words = re.findall(r"[a-z0-9]+", name.lower())
    return bool(words) and set(words) <= set(re.findall(r"[a-z0-9]+", heading.lower()))


def _is_footnote(element: _Element) -> bool:
    """A footnote or endnote, by its ARIA role or its class: part of the page's text, where an ``<aside>``
    is otherwise a sidebar."""
    classes = (element.get("class") or "").lower()
    return element.get("role") in _FOOTNOTE_ROLES or "footnote" in classes or "endnote" in classes


def _squashed(text: str) -> str:
    return " ".join(text.split())


def _collect(element: _Element, blocks: list[RawBlock]) -> None:
    """trafilatura's output tree (``head``, ``p``, ``list``/``item``, ``table``/``row``/``cell``, ``code``,
    ``quote``) in document order, as raw blocks: each block element on its own, and each run of text and inline
    elements between them as a paragraph (a label when the run is one link and nothing else, or a caption)."""
    run: list[str] = [element.text or ""]
    links: list[_Element] = []

    def end_run() -> None:
        text = "".join(run)
        if text.strip():
            pointer = _is_pointer(text, [_text(link) for link in links])
            caption = element.tag != "item" and _is_caption(text)  # a short list item is still an answer
            blocks.append(RawBlock("label" if pointer or caption else "paragraph", text))
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


def _is_pointer(text: str, link_texts: list[str]) -> bool:
    """Links and nothing else but the words that point to them: a lone link (a table-of-contents entry, a
    related link) or a cross-reference ("See How can I create a stand-alone binary from a Python script?",
    "See also json and pickle."). The title it points to reads like an answer to the very question it names,
    and says nothing.

    Example:
        >>> _is_pointer("See Creating a Table.", ["Creating a Table"]), _is_pointer("Views", ["Views"])
        (True, True)
        >>> _is_pointer("Returns a Table.", ["Table"])
        False
    """
    rest = _outside_links(text, link_texts)
    return bool(link_texts) and set(re.findall(r"\w+", rest.lower())) <= _POINTING_WORDS


def _outside_links(text: str, link_texts: list[str]) -> str:
    """``text`` (whitespace squashed) without the text of its links, each taken out once."""
    rest = _squashed(text)
    for link in link_texts:
        rest = rest.replace(_squashed(link), " ", 1)
    return rest


def _is_caption(text: str) -> bool:
    """A few words that end no sentence: an admonition's title ("Note"), a caption, a lone term."""
    words = text.split()
    return len(words) <= _CAPTION_WORDS and not words[-1].endswith((".", "!", "?", ":"))


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
            # one row, one paragraph; not " | ", which the chunker would cut back into single cells
            blocks.append(RawBlock("paragraph", " · ".join(cell for cell in cells if cell)))
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
    does unless it is one line inside a paragraph with other text."""
    if element.tag != "code":
        return element.tag in _BLOCK_TAGS
    parent = element.getparent()
    if parent is None or parent.tag not in _INLINE_PARENTS or "\n" in "".join(element.itertext()).strip():
        return True
    return not (parent.text or "").strip() and not (element.tail or "").strip() and len(parent) == 1


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
