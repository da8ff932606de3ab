"""The demo page in process (Flask's test client): what it lists and which example questions it offers."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ingest import Embedder, build_index, load_documents
from service import create_app

from ..conftest import REPO

HTML_PAGES = REPO / "tests" / "data" / "html"


@pytest.fixture(scope="module")
def html_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    index_dir = tmp_path_factory.mktemp("pages") / "index"
    build_index(load_documents([HTML_PAGES]).documents, index_dir, embedder=embedder)
    return index_dir


def ready_client(index_dir: Path, embedder: Embedder, **settings: object) -> FlaskClient:
    app = create_app({"INDEX": str(index_dir), "QUESTION_LOG": "off", **settings}, embedder=embedder)
    client = app.test_client()
    for _ in range(200):
        if client.get("/api/ready").status_code == 200:
            return client
        time.sleep(0.05)
    raise AssertionError("the index did not load")


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


def test_without_examples_anywhere_there_is_no_empty_section(html_index: Path, embedder: Embedder) -> None:
    page = ready_client(html_index, embedder).get("/").text
    assert "Try a question" not in page
