"""Reading files into documents: .txt, .md, .html, .pdf and .jsonl (one document a line).

Each format becomes a list of :class:`RawBlock` (headings and paragraphs) and goes through
:func:`compose_document`, so normalisation and offsets work the same way for all of them. A file that cannot
be used raises :class:`BadDocument`; :func:`load_documents` collects those and goes on with the rest.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import yaml
from lxml.etree import ParserError
from lxml.html import HtmlElement
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.documents import Document, RawBlock, compose_document, normalize_text
from ingest.errors import BadDocument
from ingest.execution import IN_PROCESS, Executor
from ingest.html import generated_page, html_blocks

logger = logging.getLogger(__name__)

_BINARY_SNIFF_BYTES = 8192
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_HEADING_MAX_CHARS = 90

# Limits that keep one hostile or broken file from taking the machine (each file over one is reported, skipped):
MAX_FILE_BYTES = 50_000_000  # one document (a page, a PDF, a Markdown file)
MAX_COLLECTION_BYTES = 2_000_000_000  # a JSONL file of many documents
MAX_FRONT_MATTER_CHARS = 64_000
MAX_PDF_PAGES = 5_000
PDF_SECONDS = 120.0  # time to extract one PDF's text layer


@dataclass
class LoadResult:
    """What a load produced: usable documents, every problem reported by source, and warnings about documents
    that were loaded but lack something (a web address a reader can open)."""

    documents: list[Document] = field(default_factory=list)
    problems: list[BadDocument] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_documents(
    paths: Sequence[Path], *, base_url: str | None = None, executor: Executor = IN_PROCESS
) -> LoadResult:
    """Load every supported file under ``paths`` (files or folders, walked in sorted order); ``executor``
    reads and parses the files (on a Ray cluster, one task a file, see ``ingest.cluster``).

    Document ids are paths relative to the folder given, without the suffix (``corpus/a/b.md`` -> ``a/b``);
    JSONL records keep their own ``id``. A duplicate id is reported and the later document skipped.

    A document's ``url`` is kept only when a reader can open it (``http(s)://``). A ``file://`` or relative
    address (a page saved from disk) is dropped with a warning, unless ``base_url`` (where the folder is
    published, e.g. ``https://docs.example.org/``) gives the document its public address: the base joined with
    a relative address, else with the file's path under the folder given.

    Example:
        >>> result = load_documents([Path("corpus")])
        >>> [d.id for d in result.documents]
        ['securing-elections']
    """
    result = LoadResult()
    seen: dict[str, str] = {}
    unreachable: list[str] = []
    files = list(_walk(paths, result.problems))
    for documents, unreachable_here in executor.map(functools.partial(_load_file, base_url=base_url), files):
        unreachable.extend(unreachable_here)
        for item in documents:
            if isinstance(item, BadDocument):
                result.problems.append(item)
            elif item.id in seen:
                result.problems.append(
                    BadDocument(item.source, f"duplicate document id {item.id!r} (first in {seen[item.id]})")
                )
            else:
                seen[item.id] = item.source
                result.documents.append(item)
    if unreachable:
        result.warnings.append(
            f"{len(unreachable)} documents have an address a reader cannot open (file:// or relative, first: "
            f"{unreachable[0]}); their sources show without a link. --base-url gives them their public address."
        )
    return result


def _load_file(
    file: tuple[Path, Path], *, base_url: str | None
) -> tuple[list[Document | BadDocument], list[str]]:
    """One file's documents, or the problem that kept it out, and the addresses a reader could not open.
    Picklable, so that an executor can read files in other processes (``load_documents``)."""
    path, relative = file
    unreachable: list[str] = []
    # a JSONL file holds many documents: only a file that is one document has an address of its own
    page = None if path.suffix.lower() == ".jsonl" else relative.as_posix()
    try:
        documents = [
            _with_web_address(item, page, base_url, unreachable) if isinstance(item, Document) else item
            for item in read_file(path, relative.with_suffix("").as_posix())
        ]
    except BadDocument as problem:
        return [problem], []
    except (OSError, MemoryError, RecursionError, ValueError) as exc:
        return [BadDocument(str(path), f"cannot be read ({exc})")], []
    return documents, unreachable


def _with_web_address(
    document: Document, page: str | None, base_url: str | None, unreachable: list[str]
) -> Document:
    """``document`` with a ``url`` a reader can open, or none (see ``load_documents``); ``page`` is the file's
    path under the folder given, for a file that is one document."""
    url = document.url
    if url is not None and urlsplit(url).scheme in ("http", "https"):
        return document
    if base_url is not None:
        here = urljoin(base_url, page or "")
        if url is not None and not urlsplit(url).scheme:  # a relative canonical link, from where the page is
            return replace(document, url=urljoin(here, url))
        if page is not None:
            return replace(document, url=here)
    if url is not None:
        unreachable.append(f"{document.source}: {url}")
        return replace(document, url=None)
    return document


def sphinx_source_page(path: PurePosixPath) -> PurePosixPath | None:
    """The page whose source ``path`` is a copy of, if it is one: Sphinx copies every page's reStructuredText
    or Markdown into ``_sources/`` for its "Show Source" link (``_sources/a/b.rst.txt`` for ``a/b.html``).
    Indexed, each page would be there twice, once as raw markup ("Return JSON from Views\n-----").

    Example:
        >>> sphinx_source_page(PurePosixPath("docs/_sources/patterns/sqlite3.rst.txt"))
        PurePosixPath('docs/patterns/sqlite3.html')
        >>> sphinx_source_page(PurePosixPath("notes/sources.txt")) is None
        True
    """
    parts = path.parts
    if path.suffix != ".txt" or "_sources" not in parts[:-1]:
        return None
    at = len(parts) - 1 - parts[::-1].index("_sources")
    source = PurePosixPath(*parts[at + 1 :]).with_suffix("")  # a/b.rst, or a/b when the suffix was dropped
    return PurePosixPath(*parts[:at], source.with_suffix(".html"))


# What a built site holds beside its pages that is not documentation, by the names generators give it: Sphinx
# puts its theme's stylesheets, scripts and fonts (with their licences, as .txt) in _static/; the page a web
# server shows for an address that does not exist is 404.html (Sphinx, MkDocs, Docusaurus, GitHub Pages).
_THEME_FOLDER = "_static"
_NOT_FOUND_PAGE = "404.html"


def _not_documentation(root: Path, relative: Path) -> tuple[Path, str] | None:
    """Whether the file ``relative`` of the folder ``root`` is something a built site holds beside its pages: the
    path to report it by (its folder, for a folder of such files) and why it is skipped; None for any other file.
    """
    parts = relative.parts
    if _THEME_FOLDER in parts[:-1]:
        folder = root.joinpath(*parts[: parts.index(_THEME_FOLDER) + 1])
        return folder, "a Sphinx build's theme files, not documentation"
    if relative.name.lower() == _NOT_FOUND_PAGE:
        return root / relative, "the site's page for addresses that do not exist"
    page = sphinx_source_page(PurePosixPath(relative.as_posix()))
    if page is not None and (root / page).is_file():
        folder = root.joinpath(*parts[: len(parts) - 1 - parts[::-1].index("_sources") + 1])
        return folder, 'copies of the sources of pages that are read instead (Sphinx\'s "Show Source")'
    return None


def _walk(paths: Sequence[Path], problems: list[BadDocument]) -> Iterator[tuple[Path, Path]]:
    """Each supported file with its path relative to the folder given (a file given alone: its name)."""
    for root in paths:
        if root.is_dir():
            # reported once a folder, with a count: a Sphinx build has hundreds of copies of sources
            skipped: dict[Path, tuple[str, int]] = {}
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if any(part.startswith(".") for part in relative.parts) or path.is_dir():
                    continue
                extra = _not_documentation(root, relative)
                if extra is not None:
                    where, why = extra
                    skipped[where] = (why, skipped.get(where, (why, 0))[1] + 1)
                    continue
                if path.suffix.lower() not in READERS:
                    problems.append(
                        BadDocument(str(path), f"unsupported file type {path.suffix or '(none)'}")
                    )
                    continue
                yield path, relative
            problems.extend(
                BadDocument(
                    str(where), why if where.is_file() else f"{why}: {count:,} file{'s' * (count != 1)}"
                )
                for where, (why, count) in skipped.items()
            )
        elif root.exists():
            if root.suffix.lower() not in READERS:
                problems.append(BadDocument(str(root), f"unsupported file type {root.suffix or '(none)'}"))
                continue
            yield root, Path(root.name)
        else:
            problems.append(BadDocument(str(root), "no such file or folder"))


def read_file(path: Path, doc_id: str) -> Iterable[Document | BadDocument]:
    """The documents in one file (one, or many for JSONL, where a bad line is returned as a BadDocument)."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise BadDocument(str(path), f"unsupported file type {path.suffix}")
    data = _read_bytes(path)
    return reader(data, path, doc_id)


def _read_bytes(path: Path) -> bytes:
    limit = MAX_COLLECTION_BYTES if path.suffix.lower() == ".jsonl" else MAX_FILE_BYTES
    try:
        size = path.stat().st_size
        if size > limit:
            raise BadDocument(
                str(path), f"{size / 1e6:.0f} MB, over the {limit / 1e6:.0f} MB limit for one file"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise BadDocument(str(path), f"unreadable ({exc.strerror or exc})") from exc
    if not data.strip():
        raise BadDocument(str(path), "empty file")
    return data


def _decode_text(data: bytes, path: Path) -> str:
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise BadDocument(str(path), "binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadDocument(str(path), f"not UTF-8 text (undecodable byte at offset {exc.start})") from exc


def _require_text(document: Document, source: str, problem: str = "no text to index") -> Document:
    if not any(block.kind == "paragraph" for block in document.blocks):
        raise BadDocument(source, problem)
    return document


# --- plain text -------------------------------------------------------------------------------------------


def plain_text_blocks(raw: str) -> list[RawBlock]:
    """Paragraphs are separated by blank lines; a short single line without closing punctuation that is
    followed by more text reads as a heading (the first one as the title)."""
    chunks = [chunk.strip() for chunk in _BLANK_LINE.split(raw.replace("\r\n", "\n"))]
    chunks = [chunk for chunk in chunks if chunk]
    blocks: list[RawBlock] = []
    for index, chunk in enumerate(chunks):
        followed_by_text = index + 1 < len(chunks)
        if followed_by_text and _looks_like_heading(chunk):
            blocks.append(RawBlock("heading", chunk, 1 if not blocks else 2))
        else:
            blocks.append(RawBlock("paragraph", chunk))
    return blocks


def _looks_like_heading(chunk: str) -> bool:
    return (
        "\n" not in chunk
        and len(chunk) <= _HEADING_MAX_CHARS
        and chunk[0].isupper()
        and chunk[-1] not in ".,;:!|)\"'”"
        and "|" not in chunk
    )


def _read_txt(data: bytes, path: Path, doc_id: str) -> list[Document]:
    text = _decode_text(data, path)
    document = compose_document(id=doc_id, title=None, raw_blocks=plain_text_blocks(text), source=str(path))
    return [_require_text(document, str(path))]


# --- Markdown ---------------------------------------------------------------------------------------------

_MARKDOWN = MarkdownIt("commonmark").enable("table")


def _read_markdown(data: bytes, path: Path, doc_id: str) -> list[Document]:
    text = _decode_text(data, path)
    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            loaded = _front_matter(match.group(1))
        except yaml.YAMLError as exc:
            raise BadDocument(str(path), f"front matter is not valid YAML ({exc})") from exc
        if isinstance(loaded, dict):
            meta = loaded
        text = text[match.end() :]
    blocks = markdown_blocks(text)
    title = meta.pop("title", None)
    url = meta.pop("url", None)
    document = compose_document(
        id=doc_id,
        title=str(title) if title else None,
        raw_blocks=blocks,
        url=str(url) if url else None,
        source=str(path),
        # a list (e.g. `examples:`, the demo page's example questions) is kept one item per line
        metadata={
            str(k): "\n".join(map(str, v)) if isinstance(v, list) else str(v)
            for k, v in meta.items()
            if v is not None
        },
    )
    return [_require_text(document, str(path))]


def markdown_blocks(text: str) -> list[RawBlock]:
    """Headings, paragraphs, list items, table cells and code blocks of a CommonMark document, as plain text.

    A paragraph that is only a link, or a short line outside a list without closing punctuation (what a plain
    text file would read as a heading: an image's caption, a link's title copied as text), is a label."""
    blocks: list[RawBlock] = []
    tokens = _MARKDOWN.parse(text)
    for index, token in enumerate(tokens):
        if token.type == "inline":
            opener = tokens[index - 1]
            if opener.type == "heading_open":
                blocks.append(RawBlock("heading", _inline_text(token), int(opener.tag[1])))
            else:
                text = _inline_text(token)
                label = _only_a_link(token) or (
                    opener.level == 0 and _looks_like_heading(text.strip() or ".")
                )
                blocks.append(RawBlock("label" if label else "paragraph", text))
        elif token.type in ("fence", "code_block"):
            blocks.append(RawBlock("code", token.content))
        elif token.type == "html_block":
            blocks.extend(RawBlock("paragraph", t) for t in _html_fragment_texts(token.content))
    return blocks


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_text(child))
        elif child.type == "html_inline":
            parts.append("")
    return "".join(parts)


def _only_a_link(token: Token) -> bool:
    """Whether an inline run is one link and nothing else (a related link, a table-of-contents entry)."""
    children = [c for c in token.children or [] if not (c.type == "text" and not c.content.strip())]
    return (
        len(children) >= 3
        and children[0].type == "link_open"
        and children[-1].type == "link_close"
        and not any(c.type == "link_open" for c in children[1:-1])
    )


def _html_fragment_texts(fragment: str) -> list[str]:
    """The text of raw HTML inside Markdown (scripts, styles and other non-text elements dropped)."""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ParserError, ValueError):
        return []
    for element in root.xpath(" | ".join(f"//{tag}" for tag in _NON_TEXT_TAGS)):
        element.drop_tree()
    text = " ".join(root.itertext())
    return [text] if text.strip() else []


_NON_TEXT_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "button", "select", "form")


def _front_matter(source: str) -> Any:
    """YAML front matter, without aliases: a kilobyte of nested aliases (a "billion laughs") expands to
    gigabytes, and metadata never needs them."""
    if len(source) > MAX_FRONT_MATTER_CHARS:
        raise yaml.YAMLError(f"front matter longer than {MAX_FRONT_MATTER_CHARS:,} characters")
    if any(isinstance(token, yaml.AliasToken) for token in yaml.scan(source, Loader=yaml.SafeLoader)):
        raise yaml.YAMLError("front matter uses YAML aliases (*name), which citewell does not expand")
    return yaml.safe_load(source)


# --- HTML -------------------------------------------------------------------------------------------------


def _read_html(data: bytes, path: Path, doc_id: str) -> list[Document]:
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise BadDocument(str(path), "binary file, not HTML")
    blocks, page = html_blocks(data)
    if page is None:
        raise BadDocument(str(path), "not an HTML document")
    generated = generated_page(page)
    if generated is not None:
        raise BadDocument(str(path), f"{generated}, made by the site's generator from its pages")
    title = _html_title(page)
    # the page's title repeated as text (a navigation bar's caption) is not content
    repeated_title = normalize_text(title or "")
    blocks = [b for b in blocks if b.kind == "heading" or normalize_text(b.text) != repeated_title]
    document = compose_document(
        id=doc_id, title=title, raw_blocks=blocks, url=_html_url(page), source=str(path)
    )
    if any(block.kind == "code" for block in document.blocks):
        # Flask's licence page is its text in one <pre>: shown as code, and code is never an answer
        return [_require_text(document, str(path), "no text to index outside code blocks")]
    return [
        _require_text(document, str(path), "no main text to index (only navigation or a table of contents?)")
    ]


def _html_title(page: HtmlElement) -> str | None:
    found = page.xpath("//meta[@property='og:title']/@content") or page.xpath("//title/text()")
    return str(found[0]) if found and str(found[0]).strip() else None


def _html_url(page: HtmlElement) -> str | None:
    found = page.xpath("//link[@rel='canonical']/@href") or page.xpath("//meta[@property='og:url']/@content")
    return str(found[0]) if found and str(found[0]).strip() else None


# --- PDF --------------------------------------------------------------------------------------------------


def _read_pdf(data: bytes, path: Path, doc_id: str) -> list[Document]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > MAX_PDF_PAGES:
            raise BadDocument(str(path), f"{len(reader.pages)} pages, over the {MAX_PDF_PAGES:,} page limit")
        deadline = time.monotonic() + PDF_SECONDS
        pages = []
        for page in reader.pages:
            if time.monotonic() > deadline:  # pages that share one huge content stream: hours of work
                raise BadDocument(str(path), f"text extraction took over {PDF_SECONDS:.0f} s; skipped")
            pages.append(page.extract_text() or "")
        title = reader.metadata.title if reader.metadata else None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise BadDocument(str(path), f"not a readable PDF ({exc})") from exc
    blocks = [RawBlock("paragraph", chunk) for page in pages for chunk in _BLANK_LINE.split(page)]
    document = compose_document(id=doc_id, title=title or path.stem, raw_blocks=blocks, source=str(path))
    return [_require_text(document, f"{path} (no text layer?)")]


# --- JSONL ------------------------------------------------------------------------------------------------


def _read_jsonl(data: bytes, path: Path, doc_id: str) -> Iterator[Document | BadDocument]:
    text = _decode_text(data, path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        source = f"{path}:{number}"
        try:
            yield _jsonl_record(line, source)
        except BadDocument as problem:
            yield problem


def _jsonl_record(line: str, source: str) -> Document:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadDocument(source, f"not valid JSON ({exc})") from exc
    if not isinstance(record, dict):
        raise BadDocument(source, "a JSONL line must be an object with id and text")
    record_id, text = record.get("id", record.get("_id")), record.get("text")
    if not isinstance(record_id, str | int) or isinstance(record_id, bool) or str(record_id).strip() == "":
        raise BadDocument(source, "missing or invalid 'id'")
    if not isinstance(text, str):
        raise BadDocument(source, "missing or invalid 'text'")
    title, url = record.get("title"), record.get("url")
    document = compose_document(
        id=str(record_id).strip(),
        title=title if isinstance(title, str) and title.strip() else str(record_id),
        raw_blocks=[RawBlock("paragraph", chunk) for chunk in _BLANK_LINE.split(text)],
        url=url if isinstance(url, str) else None,
        source=source,
    )
    return _require_text(document, source)


Reader = Callable[[bytes, Path, str], Iterable[Document | BadDocument]]

READERS: dict[str, Reader] = {
    ".txt": _read_txt,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".jsonl": _read_jsonl,
}
