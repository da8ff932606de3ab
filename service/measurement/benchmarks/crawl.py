"""``citewell bench crawl``: the crawler's own cost. The same pages ingested from disk and crawled from a local
HTTP server (with ETags, and a sitemap that lists exactly them), then crawled again with nothing changed."""

from __future__ import annotations

import hashlib
import http.server
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest import Embedder, ingest_paths
from ingest.crawl import CrawlOptions


def bench_crawl(folder: Path, pages: int, model: str | None = None) -> dict[str, float]:
    files = sorted(folder.glob("*.html"))[:pages]
    embedder = Embedder(model) if model else Embedder()
    embedder.encode(["warm up"])
    with tempfile.TemporaryDirectory() as scratch, _serving(files) as sitemap:
        began = time.perf_counter()
        from_disk = ingest_paths(files, Path(scratch) / "disk", embedder=embedder)
        disk_s = time.perf_counter() - began
        options = CrawlOptions(max_depth=0, max_pages=len(files) + 10)
        began = time.perf_counter()
        crawled = ingest_paths([], Path(scratch) / "web", embedder=embedder, urls=[sitemap], crawl=options)
        crawl_s = time.perf_counter() - began
        began = time.perf_counter()
        again = ingest_paths([], Path(scratch) / "web", embedder=embedder, urls=[sitemap], crawl=options)
        recrawl_s = time.perf_counter() - began
    return {
        "pages": float(len(files)),
        "documents_from_disk": float(from_disk.documents),
        "documents_crawled": float(crawled.documents),
        "disk_pages_per_s": len(files) / disk_s,
        "crawl_pages_per_s": len(files) / crawl_s,
        "crawl_time_ratio": crawl_s / disk_s,
        "recrawl_unchanged_s_per_1000_pages": recrawl_s / len(files) * 1000,
        "recrawl_embedded_passages": float(again.embedded_passages),
    }


def format_crawl(result: dict[str, Any]) -> str:
    return (
        f"{result['pages']:.0f} pages: ingest from disk {result['disk_pages_per_s']:.1f} pages/s, crawled from a "
        f"local server {result['crawl_pages_per_s']:.1f} pages/s (crawl time ratio {result['crawl_time_ratio']:.2f}; "
        f"{result['documents_crawled']:.0f} documents vs {result['documents_from_disk']:.0f}); re-crawl with "
        f"nothing changed {result['recrawl_unchanged_s_per_1000_pages']:.1f} s per 1,000 pages, "
        f"{result['recrawl_embedded_passages']:.0f} passages embedded again"
    )


@contextmanager
def _serving(files: list[Path]) -> Iterator[str]:
    """The files over HTTP on a free loopback port, with ETags and 304s, and a sitemap of them; yields its URL."""
    bodies = {f"/{path.name}": path.read_bytes() for path in files}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/sitemap.xml":
                base = f"http://{self.headers['Host']}"
                urls = "".join(f"<url><loc>{base}{name}</loc></url>" for name in bodies)
                return self._send(200, f"<urlset>{urls}</urlset>".encode(), "application/xml", "")
            body = bodies.get(self.path)
            if body is None:
                return self._send(404, b"", "text/plain", "")
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, b"", "text/html", etag)
            self._send(200, body, "text/html; charset=utf-8", etag)

        def _send(self, status: int, body: bytes, kind: str, etag: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sitemap.xml"
    finally:
        server.shutdown()
        server.server_close()
