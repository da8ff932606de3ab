"""Crawling a web site into documents: ``citewell ingest https://docs.example.org/``.

Start URLs (pages or ``sitemap.xml`` files) seed a breadth-first crawl that follows links within each start URL's
host and path prefix (``--include``/``--exclude`` regular expressions widen or narrow it), up to ``max_pages`` and
``max_depth``. Each page becomes one document through the same readers as files (HTML through trafilatura),
with its canonical URL as ``url`` and, without its scheme, as id.

Well-behaved: robots.txt is obeyed for the user agent ``citewell`` (protego) and its crawl delay honoured, one
request at a time per host, timeouts, retries with backoff for timeouts and 5xx, a cap on response size, and only
HTML, PDF, Markdown and plain text fetched. URLs are normalised (courlan: case, default ports, fragments, tracking
parameters) and a page whose text another URL already gave is stored once.

Incremental: a re-crawl sends each page's ETag and Last-Modified from the live index; a 304 reuses the stored
document (so its vectors), a 404 or 410 drops it, and a failure that may pass (a timeout, a 5xx) keeps the last
good version.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import httpx
import lxml.html
from courlan import normalize_url
from lxml import etree
from protego import Protego

from ingest.documents import Document
from ingest.errors import BadDocument, FetchFailed
from ingest.loaders import READERS, sphinx_source_page

logger = logging.getLogger(__name__)

USER_AGENT = "citewell/0.1 (+https://github.com/citewell; answers questions from this site's pages)"
ROBOTS_AGENT = "citewell"
# what is fetched, by media type, and which reader reads it
MEDIA_READERS = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/plain": ".txt",
}
SKIPPED_SUFFIXES = frozenset(
    [
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".webp",
        ".ico",
        ".css",
        ".js",
        ".zip",
        ".gz",
        ".tgz",
        ".tar",
        ".mp4",
        ".mp3",
        ".woff",
        ".woff2",
        ".ttf",
        ".exe",
        ".dmg",
    ]
)


@dataclass(frozen=True)
class CrawlOptions:
    """How far a crawl goes and how it behaves; ``include``/``exclude`` patterns are checked when it starts."""

    max_pages: int = 5_000
    max_depth: int = 20
    include: tuple[str, ...] = ()  # regular expressions: a URL matching one is in scope, whatever its prefix
    exclude: tuple[str, ...] = ()  # a URL matching one is out of scope
    timeout: float = 15.0
    retries: int = 2
    max_bytes: int = 20_000_000
    # seconds between two requests to one host when robots.txt names no crawl delay
    delay: float = 0.0

    def __post_init__(self) -> None:
        for pattern in (*self.include, *self.exclude):
            re.compile(pattern)  # raises re.error now, not halfway through a crawl


@dataclass
class CrawlReport:
    documents: list[Document] = field(default_factory=list)
    problems: list[BadDocument] = field(default_factory=list)
    fetched: int = 0  # page bodies downloaded (a redirect or a copy of a page too)
    unchanged: int = 0  # 304, or the same text as the stored page
    new: int = 0
    changed: int = 0
    removed: int = 0  # stored pages that are gone (404, 410)
    failed: int = 0  # pages that could not be fetched; a stored version is kept

    def summary(self) -> str:
        return (
            f"crawled: {self.fetched} fetched, {self.unchanged} unchanged, {self.new} new, {self.changed} changed, "
            f"{self.removed} removed, {self.failed} failed"
        )


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def canonical(url: str) -> str:
    """One spelling per page: lower-case host, no default port, no fragment, no tracking parameters."""
    return normalize_url(url, strict=True)


def document_id(url: str) -> str:
    """A crawled page's id: its canonical URL without the scheme (``docs.example.org/guide/start.html``)."""
    parts = urlsplit(url)
    return parts.netloc + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class Crawler:
    """One crawl of ``starts``, with ``previous`` (the live index's documents) for conditional requests."""

    def __init__(
        self,
        starts: Sequence[str],
        options: CrawlOptions | None = None,
        previous: Mapping[str, Document] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.options = options or CrawlOptions()
        self.starts = [canonical(url) for url in starts]
        self.previous = {doc.url: doc for doc in (previous or {}).values() if doc.url}
        # URLs that gave a stored page last time (a redirect, a copy): asked for with that page's validators
        self.aliases = {
            alias: url
            for url, doc in self.previous.items()
            for alias in doc.metadata.get("aliases", "").split("\n")
            if alias
        }
        self.client = httpx.Client(
            headers={"User-Agent": USER_AGENT, "Accept": ", ".join([*MEDIA_READERS, "*/*;q=0.1"])},
            timeout=self.options.timeout,
            follow_redirects=True,
        )
        self.progress = progress or (lambda _: None)
        self._robots: dict[str, Protego | None] = {}
        self._last_request: dict[str, float] = {}
        self._include = [re.compile(p) for p in self.options.include]
        self._exclude = [re.compile(p) for p in self.options.exclude]
        self._prefixes = [self._prefix(url) for url in self.starts]

    def run(self) -> CrawlReport:
        report = CrawlReport()
        seen_urls: set[str] = set()
        seen_texts: dict[str, str] = {}
        frontier: deque[tuple[str, int]] = deque()
        for start in self.starts:
            if start.endswith(".xml"):
                frontier.extend((url, 0) for url in self._sitemap(start, report))
                continue
            frontier.append((start, 0))
            rules = self._robots_for(start)
            for sitemap in rules.sitemaps if rules is not None else []:
                frontier.extend((url, 1) for url in self._sitemap(canonical(sitemap), report))
        # every stored page is asked for again (a 304 costs nothing), so a page no longer linked that is gone
        # is found gone
        frontier.extend((url, 1) for url in self.previous)
        kept: dict[str, Document] = {}
        aliases: dict[str, set[str]] = {}  # page URL -> the other URLs that gave it
        while frontier and len(seen_urls) < self.options.max_pages:
            url, depth = frontier.popleft()
            if url in seen_urls or not self._in_scope(url):
                continue
            seen_urls.add(url)
            if not self._allowed(url):
                continue
            page = self._fetch_page(url, report)
            self.progress(1)
            if page is None:
                continue
            document, links = page
            if depth < self.options.max_depth:
                frontier.extend((link, depth + 1) for link in links if link not in seen_urls)
            if document is None:
                continue
            fingerprint = hashlib.sha256(document.text.encode("utf-8")).hexdigest()
            if fingerprint in seen_texts:  # the same page under a second URL
                logger.info("%s repeats %s; stored once", url, seen_texts[fingerprint])
                aliases.setdefault(seen_texts[fingerprint], set()).add(url)
                continue
            seen_texts[fingerprint] = document.url or url
            if url != document.url:
                aliases.setdefault(document.url or url, set()).add(url)
            kept[document.id] = document
            stored = self.previous.get(document.url or "")
            if stored is None:
                report.new += 1
            elif stored.content_hash == document.content_hash:
                report.unchanged += 1
            else:
                report.changed += 1
        # stored pages of this crawl's scope that it did not reach (out of its page budget) stay unless found
        # gone; stored pages outside its scope go, so the index holds what this crawl was asked for
        gone = {p.source for p in report.problems if p.reason.startswith("gone")}
        for url, document in self.previous.items():
            if document.id not in kept and url not in gone and url not in seen_urls and self._in_scope(url):
                kept[document.id] = document
        report.removed = sum(1 for url in self.previous if url in gone)
        report.documents = [
            replace(
                doc, metadata={**doc.metadata, "aliases": "\n".join(sorted(aliases.get(doc.url or "", ())))}
            )
            for doc in kept.values()
        ]
        self.client.close()
        return report

    # --- scope and politeness ------------------------------------------------------------------------

    @staticmethod
    def _prefix(url: str) -> str:
        """The host and folder a start URL covers: ``https://d.org/docs/15/index.html`` → ``https://d.org/docs/15/``."""
        parts = urlsplit(url)
        folder = parts.path if parts.path.endswith("/") else str(PurePosixPath(parts.path or "/").parent)
        return f"{parts.scheme}://{parts.netloc}{folder.rstrip('/')}/"

    def _in_scope(self, url: str) -> bool:
        if any(pattern.search(url) for pattern in self._exclude):
            return False
        path = PurePosixPath(urlsplit(url).path)
        if path.suffix.lower() in SKIPPED_SUFFIXES or sphinx_source_page(path) is not None:
            return False
        return any(url.startswith(prefix) for prefix in self._prefixes) or any(
            pattern.search(url) for pattern in self._include
        )

    def _robots_for(self, url: str) -> Protego | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            rules = None
            try:
                response, body = self._get(origin + "/robots.txt")
                if response.status_code == 200:
                    rules = Protego.parse(body.decode("utf-8", errors="replace"))
            except (FetchFailed, BadDocument) as exc:
                logger.warning("%s/robots.txt could not be read (%s); crawling without it", origin, exc)
            self._robots[origin] = rules
        return self._robots[origin]

    def _allowed(self, url: str) -> bool:
        rules = self._robots_for(url)
        return rules is None or bool(rules.can_fetch(url, ROBOTS_AGENT))

    def _wait_turn(self, url: str) -> None:
        """Requests to one host spaced by robots.txt's crawl delay (or ``delay``); the crawl makes one request at
        a time, so that is all the politeness a host needs."""
        host = urlsplit(url).netloc
        rules = self._robots.get(f"{urlsplit(url).scheme}://{host}")
        delay = (rules.crawl_delay(ROBOTS_AGENT) if rules else None) or self.options.delay
        wait = self._last_request.get(host, 0.0) + float(delay) - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request[host] = time.monotonic()

    # --- fetching -------------------------------------------------------------------------------------

    def _get(
        self, url: str, headers: Mapping[str, str] | None = None, *, pages_only: bool = False
    ) -> tuple[httpx.Response, bytes]:
        """A GET and its body, with retries and backoff for timeouts, dropped connections and 5xx; the body is
        read up to ``max_bytes`` and no further (``BadDocument`` beyond), and with ``pages_only`` not at all
        unless it is a kind of page citewell reads (``MEDIA_READERS``). ``FetchFailed`` when the last try failed."""
        attempt = 0
        with _http_errors(url):
            while True:
                self._wait_turn(url)
                try:
                    with self.client.stream("GET", url, headers=headers) as response:
                        body = bytearray()
                        # an image, an archive: the headers say so, the body is left unread
                        unread = response.status_code == 200 and _media(response) not in MEDIA_READERS
                        if pages_only and unread:
                            return response, b""
                        for chunk in response.iter_bytes():
                            body.extend(chunk)
                            if len(body) > self.options.max_bytes:
                                raise BadDocument(url, f"larger than {self.options.max_bytes / 1e6:.0f} MB")
                    if response.status_code < 500 or attempt >= self.options.retries:
                        return response, bytes(body)
                except (httpx.TimeoutException, httpx.TransportError):
                    if attempt >= self.options.retries:
                        raise
                attempt += 1
                time.sleep(0.25 * 2**attempt)

    def _fetch_page(self, url: str, report: CrawlReport) -> tuple[Document | None, list[str]] | None:
        """The page at ``url`` as a document (None when it has no text worth indexing) and its links; None when
        it could not be had, with the reason in ``report``."""
        stored = self.previous.get(url) or self.previous.get(self.aliases.get(url, ""))
        headers = {}
        if stored is not None:
            if stored.metadata.get("etag"):
                headers["If-None-Match"] = stored.metadata["etag"]
            if stored.metadata.get("last_modified"):
                headers["If-Modified-Since"] = stored.metadata["last_modified"]
        try:
            response, body = self._get(url, headers, pages_only=True)
        except BadDocument as problem:
            report.problems.append(problem)
            report.failed += 1
            return None
        except FetchFailed as exc:
            report.problems.append(BadDocument(url, f"could not be fetched ({exc.kind}); kept as it was"))
            report.failed += 1
            return None
        if response.status_code == 304 and stored is not None:
            return stored, [link for link in stored.metadata.get("links", "").split("\n") if link]
        if response.status_code in (404, 410):
            report.problems.append(BadDocument(url, f"gone ({response.status_code})"))
            return None
        if response.status_code != 200:
            report.problems.append(BadDocument(url, f"HTTP {response.status_code}; kept as it was"))
            report.failed += 1
            return None
        media = _media(response)
        suffix = MEDIA_READERS.get(media)
        if suffix is None:
            report.problems.append(BadDocument(url, f"not a page to index ({media or 'no content type'})"))
            return None
        report.fetched += 1
        final = canonical(str(response.url))
        links = self._links(body, final) if suffix == ".html" else []
        try:
            # the readers name a document by a path: the page's id, which reads like one
            read = list(READERS[suffix](body, Path(document_id(final)), document_id(final)))
        except BadDocument as problem:
            report.problems.append(BadDocument(url, problem.reason))
            return None, links
        [document] = read
        if isinstance(document, BadDocument):
            report.problems.append(BadDocument(url, document.reason))
            return None, links
        page_url = canonical(urljoin(final, document.url)) if document.url else final
        if urlsplit(page_url).netloc != urlsplit(final).netloc:
            page_url = final  # a canonical link to another host is not trusted as this page's address
        metadata = {
            **document.metadata,
            "etag": response.headers.get("ETag", ""),
            "last_modified": response.headers.get("Last-Modified", ""),
            "links": "\n".join(links),
        }
        return replace(document, id=document_id(page_url), url=page_url, source=url, metadata=metadata), links

    def _links(self, html: bytes, base: str) -> list[str]:
        try:
            page = lxml.html.document_fromstring(html)
        except (etree.ParserError, ValueError):
            return []
        links = []
        for href in page.xpath("//a/@href"):
            href = str(href).strip()
            if not href or href.startswith(("#", "mailto:", "javascript:", "tel:")):
                continue
            absolute = urljoin(base, href)
            if is_url(absolute):
                links.append(canonical(absolute))
        return list(dict.fromkeys(links))

    def _sitemap(self, url: str, report: CrawlReport, depth: int = 0) -> list[str]:
        """The page URLs a sitemap lists; a sitemap index is followed (two levels at most)."""
        try:
            response, body = self._get(url)
            with _http_errors(url):
                response.raise_for_status()
            root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except (FetchFailed, etree.XMLSyntaxError, BadDocument) as exc:
            report.problems.append(BadDocument(url, f"sitemap could not be read ({exc})"))
            return []
        locations = [str(loc).strip() for loc in root.xpath("//*[local-name()='loc']/text()")]
        if etree.QName(root).localname == "sitemapindex" and depth < 2:
            return [
                page for sitemap in locations for page in self._sitemap(canonical(sitemap), report, depth + 1)
            ]
        return [canonical(loc) for loc in locations if is_url(loc)]


@contextmanager
def _http_errors(url: str) -> Iterator[None]:
    """httpx's errors as ``FetchFailed``, its message and kind kept: the one place the crawl catches them whole."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise FetchFailed(url, type(exc).__name__, str(exc)) from exc


def _media(response: httpx.Response) -> str:
    """The media type a response says it has (``text/html``), without parameters."""
    return str(response.headers.get("Content-Type", "")).split(";")[0].strip().lower()
