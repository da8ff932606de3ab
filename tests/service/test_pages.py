"""The demo page in process (Flask's test client): what it lists and which example questions it offers."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from ingest import Embedder, build_index, load_documents
from service.schemas import CLIENT_LIMITS

from ..conftest import REPO
from .conftest import ready_client

HTML_PAGES = REPO / "tests" / "data" / "html"


@pytest.fixture(scope="module")
def html_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    index_dir = tmp_path_factory.mktemp("pages") / "index"
    build_index(load_documents([HTML_PAGES]).documents, index_dir, embedder=embedder)
    return index_dir


def test_documents_are_listed_by_title_and_configured_examples_are_offered(
    html_index: Path, embedder: Embedder
) -> None:
    questions = ["How do I install the package?", "Where are cookies explained?"]
    page = ready_client(html_index, embedder, EXAMPLE_QUESTIONS=questions).get("/").text
    listed = page.split('<ul class="documents">')[1].split("</ul>")[0]
    titles = [re.sub(r"<[^>]+>", "", item).split(",")[0] for item in re.findall(r"<li>(.*?)</li>", listed)]
    assert len(titles) == 4 and titles == sorted(titles, key=str.casefold)
    for question in questions:
        assert f'data-question="{question}"' in page


def test_the_embed_snippet_names_the_configured_address_whatever_the_headers(
    html_index: Path, embedder: Embedder
) -> None:
    client = ready_client(html_index, embedder, PUBLIC_URL="https://ask.example.org/", PROXY_HOPS=1)
    page = client.get("/", headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}).text
    assert "&lt;script src=&#34;https://ask.example.org/widget.js&#34;" in page or (
        '&lt;script src="https://ask.example.org/widget.js"' in page
    )
    assert "evil.example" not in page


def test_without_examples_anywhere_there_is_no_empty_section(html_index: Path, embedder: Embedder) -> None:
    page = ready_client(html_index, embedder).get("/").text
    assert "Try a question" not in page


def test_widget_script_is_small_and_knows_the_api_limits(html_index: Path, embedder: Embedder) -> None:
    client = ready_client(html_index, embedder)
    response = client.get("/widget.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    source = response.data
    written = re.search(rb"var LIMITS = (\{.*?\});", source)
    assert written is not None and json.loads(written[1]) == CLIENT_LIMITS
    assert client.get("/widget.js", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    size = len(gzip.compress(source, 9))
    print(f"widget.js: {len(source)} bytes, {size} bytes gzipped")
    assert size < 15_000
