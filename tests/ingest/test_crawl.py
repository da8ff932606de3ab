"""Crawling a real documentation site over real HTTP: PostgreSQL tutorial pages served from loopback with a
sitemap, a robots.txt, a redirect, a duplicate, a dead link, a page that times out, and ETag/Last-Modified; and
what the HTTP client refuses (a host that is down, a redirect loop, a missing or broken sitemap) in the report."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import lxml.html
import pytest

from ingest import Embedder, ingest_paths, load_index
from ingest.crawl import Crawler, CrawlOptions
from ingest.index import current_version
from service.answering import Answerer
from service.measurement.benchmarks.harness import free_port

from ..conftest import SHARED

PG = SHARED / "corpora" / "postgresql-15"
PAGES = [
    "tutorial-table",
    "tutorial-populate",
    "tutorial-select",
    "tutorial-join",
    "tutorial-views",
    "tutorial-fk",
]
SITEMAP_ONLY = "tutorial-fk"  # listed in the sitemap, linked from nowhere
OPTIONS = CrawlOptions(timeout=1.0, retries=1)

CITEWELL = Path(sys.executable).parent / "citewell"


def without_links(html: bytes) -> bytes:
    """A page with its links removed: the site's own links are the ones this test puts in its index page."""
    page = lxml.html.document_fromstring(html)
    for anchor in page.xpath("//a[@href]"):
        del anchor.attrib["href"]
    return lxml.html.tostring(page)


class Site:
    """The files of a small documentation site, served by a real HTTP server, with a log of what was asked."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.modified: dict[str, float] = {}
        self.redirects: dict[str, str] = {}  # path -> where a 301 sends it
        self.log: list[tuple[str, int]] = []
        self.delay = 0.0  # seconds before each answer: a slow site
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def put(self, path: str, body: bytes) -> None:
        self.files[path] = body
        self.modified[path] = time.time()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                time.sleep(site.delay)
                if path == "/docs/slow.html":
                    time.sleep(3)  # longer than the crawl's timeout
                if path in site.redirects:
                    return self._send(301, b"", {"Location": site.redirects[path]})
                body = site.files.get(path)
                if body is None:
                    return self._send(404, b"not found", {"Content-Type": "text/plain"})
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                kinds = {"xml": "application/xml", "txt": "text/plain", "/docs/export": "application/zip"}
                kind = kinds.get(path.rsplit(".", 1)[-1] if "." in path else path, "text/html")
                headers = {"ETag": etag, "Last-Modified": formatdate(site.modified[path], usegmt=True)}
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", headers)
                self._send(200, body, {**headers, "Content-Type": f"{kind}; charset=utf-8"})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                site.log.append((self.path, status))
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the crawler gave up waiting (the slow page)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def empty_site() -> Iterator[Site]:
    """A site with no pages yet, served."""
    site = Site()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()


@pytest.fixture
def site(empty_site: Site) -> Site:
    if not PG.exists():
        pytest.skip(f"the PostgreSQL documentation is not at {SHARED}")
    site = empty_site
    for name in PAGES:
        site.put(f"/docs/{name}.html", without_links((PG / f"{name}.html").read_bytes()))
    site.put("/docs/copy/tutorial-table.html", site.files["/docs/tutorial-table.html"])  # one page, two URLs
    site.redirects["/docs/old-views.html"] = "/docs/tutorial-views.html"
    site.put(
        "/docs/private/notes.html",
        b"<html><body><main><p>Private notes that robots.txt keeps out.</p></main></body></html>",
    )
    site.put(
        "/other/page.html",
        b"<html><body><main><p>A page outside the docs folder, so out of scope.</p></main></body></html>",
    )
    linked = [p for p in PAGES if p != SITEMAP_ONLY] + [
        "copy/tutorial-table",
        "old-views",
        "missing",
        "slow",
        "private/notes",
    ]
    links = "".join(f"<li><a href='{name}.html'>{name}</a></li>" for name in linked)
    links += (
        "<li><a href='../other/page.html'>other</a></li><li><a href='https://elsewhere.example/x'>x</a></li>"
    )
    links += "<li><a href='export'>the whole tutorial as a zip file</a></li>"  # not a page: left unread
    site.put("/docs/export", b"PK\x03\x04" + b"\x00" * 5000)
    site.put(
        "/docs/index.html",
        f"<html><head><title>Tutorial</title></head><body><main><h1>Tutorial</h1><p>The PostgreSQL tutorial, "
        f"chapter by chapter, for people who are new to databases.</p><ul>{links}</ul></main></body></html>".encode(),
    )
    site.put(
        "/robots.txt",
        f"User-agent: *\nDisallow: /docs/private/\nSitemap: {site.base}/docs/sitemap.xml\n".encode(),
    )
    urls = "".join(f"<url><loc>{site.base}/docs/{name}.html</loc></url>" for name in ["index", *PAGES])
    site.put(
        "/docs/sitemap.xml",
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode(),
    )
    return site


def crawl(site: Site, index_dir: Path, embedder: Embedder):  # type: ignore[no-untyped-def]
    return ingest_paths(
        [], index_dir, embedder=embedder, urls=[f"{site.base}/docs/index.html"], crawl=OPTIONS
    )


@pytest.mark.slow
def test_a_crawl_ingests_exactly_the_allowed_pages_and_answers_with_their_urls(
    site: Site, tmp_path: Path, embedder: Embedder
) -> None:
    report = crawl(site, tmp_path / "index", embedder)
    index = load_index(tmp_path / "index")
    host = site.base.removeprefix("http://")
    assert set(index.documents) == {f"{host}/docs/{name}.html" for name in ["index", *PAGES]}
    problems = {p.source.removeprefix(site.base): p.reason for p in report.problems}
    assert problems["/docs/missing.html"].startswith("gone (404)")
    assert problems["/docs/slow.html"] == "could not be fetched (ReadTimeout); kept as it was"
    assert problems["/docs/export"] == "not a page to index (application/zip)"
    # every page once, and the copy and the redirect's target a second time; seven distinct pages
    assert report.crawl_summary.startswith(
        f"crawled: {len(PAGES) + 3} fetched, 0 unchanged, {len(PAGES) + 1} new"
    )
    # robots.txt kept the private folder out: it was never even asked for; out-of-scope pages neither
    asked = {path for path, _ in site.log}
    assert "/docs/private/notes.html" not in asked and "/other/page.html" not in asked
    # the copy was fetched, found to repeat a page, and stored once
    assert "/docs/copy/tutorial-table.html" in asked
    answer = Answerer.open(tmp_path / "index", embedder=embedder).ask("How do I get rid of a table?")
    assert answer.answered and "DROP TABLE" in answer.passages[0].text
    assert answer.passages[0].source.url == f"{site.base}/docs/tutorial-table.html"


@pytest.mark.slow
def test_a_recrawl_fetches_and_embeds_only_what_changed_and_drops_what_is_gone(
    site: Site, tmp_path: Path, embedder: Embedder
) -> None:
    index_dir = tmp_path / "index"
    crawl(site, index_dir, embedder)
    site.log.clear()
    same = crawl(site, index_dir, embedder)
    pages = [(path, status) for path, status in site.log if path.endswith(".html") and "slow" not in path]
    page_statuses = {status for path, status in pages if path.startswith("/docs/tutorial")}
    assert page_statuses == {304}  # nothing changed: no page body sent again
    assert same.embedded_passages == 0 and same.crawl_summary.startswith("crawled: 0 fetched")

    changed = site.files["/docs/tutorial-views.html"].replace(b"Views", b"Saved queries", 1)
    site.put("/docs/tutorial-views.html", changed)
    del site.files["/docs/tutorial-join.html"]
    again = crawl(site, index_dir, embedder)
    index = load_index(index_dir)
    host = site.base.removeprefix("http://")
    assert f"{host}/docs/tutorial-join.html" not in index.documents
    views = [p for p in index.passages if p.document == f"{host}/docs/tutorial-views.html"]
    assert again.embedded_passages == len(views)  # the changed page alone was embedded again
    assert "1 changed, 1 removed" in again.crawl_summary


@pytest.mark.slow
def test_a_crawl_killed_half_way_leaves_the_previous_index_serving(
    site: Site, tmp_path: Path, embedder: Embedder
) -> None:
    index_dir = tmp_path / "index"
    before = crawl(site, index_dir, embedder).version_dir
    site.delay = 0.5  # slow enough to be caught in the middle
    for name in PAGES:
        site.put(f"/docs/{name}.html", site.files[f"/docs/{name}.html"] + b"<!-- changed -->")
    site.log.clear()
    process = subprocess.Popen(
        [str(CITEWELL), "ingest", f"{site.base}/docs/index.html", "--index", str(index_dir)],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    fetched = 0
    try:
        for _ in range(1200):  # until it has fetched a changed page or two (the model loads first)
            fetched = sum(1 for path, status in list(site.log) if status == 200 and "tutorial" in path)
            if fetched >= 2:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    assert fetched >= 2, "the crawl was not caught in the middle"
    assert current_version(index_dir) == before
    assert load_index(index_dir).counts()["documents"] == len(PAGES) + 1


@pytest.mark.slow
def test_include_exclude_and_the_page_budget_bound_a_crawl(site: Site) -> None:
    start = [f"{site.base}/docs/index.html"]
    options = CrawlOptions(
        timeout=1.0, retries=0, exclude=(r"tutorial-(join|select)",), include=(r"/other/",)
    )
    urls = {doc.url.removeprefix(site.base) for doc in Crawler(start, options).run().documents if doc.url}
    assert "/other/page.html" in urls  # outside /docs/, brought in by --include
    assert not {"/docs/tutorial-join.html", "/docs/tutorial-select.html"} & urls  # left out by --exclude
    assert "/docs/tutorial-views.html" in urls
    site.log.clear()
    budget = Crawler(start, CrawlOptions(timeout=1.0, retries=0, max_pages=3)).run()
    assert len(budget.documents) <= 3
    assert len({path for path, _ in site.log if path.endswith(".html")}) <= 3


def test_a_host_that_is_down_is_reported_and_the_crawl_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    start = f"http://127.0.0.1:{free_port()}/docs/index.html"
    with caplog.at_level(logging.WARNING, logger="ingest.crawl"):
        report = Crawler([start], CrawlOptions(timeout=1.0, retries=1)).run()
    [warning] = caplog.records  # robots.txt, tried twice like the page
    assert "/robots.txt could not be read (" in warning.getMessage()
    assert "crawling without it" in warning.getMessage()
    assert [(p.source, p.reason) for p in report.problems] == [
        (start, "could not be fetched (ConnectError); kept as it was")
    ]
    assert report.failed == 1 and report.documents == []


def test_a_redirect_loop_and_missing_or_broken_sitemaps_are_reported(empty_site: Site) -> None:
    site = empty_site
    site.redirects.update({"/docs/a.html": "/docs/b.html", "/docs/b.html": "/docs/a.html"})
    site.put(
        "/docs/index.html", b"<html><body><main><p>Start here.</p><a href='a.html'>A</a></main></body></html>"
    )
    site.put("/docs/broken.xml", b"<urlset><url><loc>")
    starts = [f"{site.base}/docs/{name}" for name in ("index.html", "missing.xml", "broken.xml")]
    report = Crawler(starts, CrawlOptions(timeout=1.0, retries=0)).run()
    problems = {p.source.removeprefix(site.base): p.reason for p in report.problems}
    assert problems["/docs/a.html"] == "could not be fetched (TooManyRedirects); kept as it was"
    assert problems["/docs/missing.xml"].startswith("sitemap could not be read (Client error '404 Not Found'")
    assert problems["/docs/broken.xml"].startswith("sitemap could not be read (")
    assert report.failed == 1


def test_a_crawl_of_a_sphinx_site_does_not_follow_show_source_to_the_copies_of_its_sources(
    empty_site: Site,
) -> None:
    site = empty_site
    site.put(
        "/docs/quickstart.html",
        b"<html><body><main><p>Flask will look for templates in the templates folder.</p></main>"
        b"<div role='complementary'><a href='_sources/quickstart.rst.txt'>Show Source</a></div></body></html>",
    )
    site.put("/docs/_sources/quickstart.rst.txt", b"Quickstart\n==========\n\nFlask will look for templates.")
    site.put("/docs/notes.txt", b"Release notes\n\nA text page that the site links to.")
    site.put(
        "/docs/index.html",
        b"<html><body><main><p>Start here.</p><a href='quickstart.html'>Quickstart</a>"
        b"<a href='notes.txt'>Notes</a></main></body></html>",
    )
    report = Crawler([f"{site.base}/docs/index.html"], CrawlOptions(timeout=1.0, retries=0)).run()
    urls = {doc.url.removeprefix(site.base) for doc in report.documents if doc.url}
    assert urls == {"/docs/index.html", "/docs/quickstart.html", "/docs/notes.txt"}
    assert "/docs/_sources/quickstart.rst.txt" not in {path for path, _ in site.log}
