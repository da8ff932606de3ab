from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import BadDocument, Document, chunk_document, load_documents
from ingest.loaders import read_file


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def only_document(path: Path) -> Document:
    [document] = list(read_file(path, path.stem))
    assert isinstance(document, Document)
    return document


def test_txt_first_short_line_is_title_and_headings_are_sections(tmp_path: Path) -> None:
    doc = only_document(
        write(
            tmp_path / "notes.txt",
            "Voting Basics\n\nWho Counts the Votes\n\nLocal  officials count\nthe votes. They report to the state.\n",
        )
    )
    assert doc.title == "Voting Basics"
    [passage] = chunk_document(doc)
    assert passage.text == "Local officials count the votes. They report to the state."
    assert passage.section == "Who Counts the Votes"


def test_markdown_front_matter_headings_lists_and_inline_markup(tmp_path: Path) -> None:
    doc = only_document(
        write(
            tmp_path / "guide.md",
            "---\ntitle: The Guide\nurl: https://example.org/guide\npublisher: Example Org\n---\n"
            "# Ignored H1\n\n## Registering\n\nYou **must** register [online](https://x.org) by *May 1*.\n\n"
            "- Bring an ID.\n- Bring a pen.\n",
        )
    )
    assert (doc.title, doc.url, doc.metadata) == (
        "The Guide",
        "https://example.org/guide",
        {"publisher": "Example Org"},
    )
    passages = chunk_document(doc)
    assert [p.text for p in passages] == [
        "You must register online by May 1.",
        "Bring an ID.",
        "Bring a pen.",
    ]
    assert {p.section for p in passages} == {"Registering"}


def test_html_main_text_through_parser(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><title>Poll Hours</title>
    <link rel="canonical" href="https://example.org/hours"><style>p{color:red}</style></head>
    <body><nav><p>Home | About | Contact</p></nav>
    <main><h1>Poll Hours</h1><h2>When polls open</h2>
      <p>Polls open at <b>7</b>&nbsp;a.m.<br>They close at 8 p.m.</p>
      <script>alert("not text")</script>
      <ul><li>Bring ID</li><li>Arrive early</li></ul></main>
    <footer><p>Copyright</p></footer></body></html>"""
    doc = only_document(write(tmp_path / "hours.html", html))
    assert (doc.title, doc.url) == ("Poll Hours", "https://example.org/hours")
    texts = [(p.section, p.text) for p in chunk_document(doc)]
    assert texts == [
        ("When polls open", "Polls open at 7 a.m. They close at 8 p.m."),
        ("When polls open", "Bring ID"),
        ("When polls open", "Arrive early"),
    ]
    assert "alert" not in doc.text and "Copyright" not in doc.text and "Contact" not in doc.text


def test_pdf_text_layer(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    path = tmp_path / "memo.pdf"
    pdf = canvas.Canvas(str(path), pagesize=letter)
    pdf.setTitle("Election Memo")
    pdf.drawString(72, 700, "Ballots are counted twice. Results are certified by the state.")
    pdf.showPage()
    pdf.drawString(72, 700, "Audits follow every election.")
    pdf.save()
    doc = only_document(path)
    assert doc.title == "Election Memo"
    assert [p.text for p in chunk_document(doc)] == [
        "Ballots are counted twice. Results are certified by the state.",
        "Audits follow every election.",
    ]


def test_jsonl_many_documents_and_bad_lines_reported_by_line(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "title": "Alpha", "text": "Alpha text here.", "url": "https://a.example"}),
        "{not json",
        json.dumps({"id": "b", "text": "Beta has no title."}),
        json.dumps({"title": "no id", "text": "x"}),
        json.dumps({"id": 7, "title": "Seven", "text": "   "}),
        json.dumps(["a list"]),
        "",
        json.dumps({"id": "a", "title": "dup", "text": "Duplicate id."}),
    ]
    path = write(tmp_path / "many.jsonl", "\n".join(lines) + "\n")
    result = load_documents([path])
    assert [(d.id, d.title, d.url) for d in result.documents] == [
        ("a", "Alpha", "https://a.example"),
        ("b", "b", None),
    ]
    reported = {p.source: p.reason for p in result.problems}
    assert set(reported) == {f"{path}:2", f"{path}:4", f"{path}:5", f"{path}:6", f"{path}:8"}
    assert "duplicate document id 'a'" in reported[f"{path}:8"]


def test_bad_files_are_reported_by_path_and_skipped(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    good = write(corpus / "good.txt", "A good document. It has text.")
    write(corpus / "sub" / "nested.md", "# Nested\n\nNested text.")
    bad = {
        write(corpus / "empty.txt", ""): "empty file",
        write(corpus / "blank.md", "   \n\n  "): "empty file",
        write(corpus / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"): "binary",
        write(corpus / "latin1.txt", "caf\xe9".encode("latin-1")): "not UTF-8",
        write(corpus / "broken.pdf", b"%PDF-1.4 garbage that is not a pdf"): "PDF",
        write(corpus / "headings-only.md", "# Only\n\n## Headings"): "no text",
        write(corpus / "notes.docx", b"PK\x03\x04"): "unsupported",
    }
    dangling = corpus / "gone.txt"
    dangling.symlink_to(tmp_path / "missing.txt")
    bad[dangling] = "unreadable"
    write(corpus / ".hidden.txt", "Hidden files are ignored.")

    result = load_documents([corpus])
    assert sorted(d.id for d in result.documents) == ["good", "sub/nested"]
    reported = {p.source: p.reason for p in result.problems}
    assert set(reported) == {str(p) for p in bad}
    for path, reason in bad.items():
        assert reason in reported[str(path)], (path, reported[str(path)])
    assert str(good) not in reported


def test_missing_path_is_reported(tmp_path: Path) -> None:
    result = load_documents([tmp_path / "nope"])
    assert result.documents == [] and "no such file" in result.problems[0].reason


@given(st.binary(max_size=400), st.sampled_from([".txt", ".md", ".html", ".pdf", ".jsonl"]))
@settings(max_examples=200, deadline=None)
def test_arbitrary_bytes_give_documents_or_a_reported_problem(data: bytes, suffix: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            items = list(read_file(path, "fuzz"))
        except BadDocument:
            return
        for item in items:
            if isinstance(item, Document):
                for passage in chunk_document(item):
                    assert item.text[passage.start : passage.end] == passage.text


def test_a_sphinx_build_is_read_from_its_pages_not_from_the_copies_of_their_sources(tmp_path: Path) -> None:
    site = tmp_path / "html"
    page = "<html><head><title>Quickstart</title></head><body><main><h1>Quickstart</h1><p>{}</p></main></body></html>"
    write(site / "quickstart.html", page.format("Flask will look for templates in the templates folder."))
    write(site / "patterns" / "sqlite3.html", page.format("You can use SQLite 3 with Flask."))
    write(
        site / "_sources" / "quickstart.rst.txt", "Quickstart\n==========\n\nFlask will look for templates."
    )
    write(site / "_sources" / "patterns" / "sqlite3.rst.txt", "Using SQLite 3\n---\n\nYou can use SQLite.")
    # a text file that looks like a copy but whose page is not in the build is a document of its own
    write(site / "_sources" / "orphan.rst.txt", "Orphan\n\nA page of notes kept only as text.")

    result = load_documents([site])
    assert sorted(d.id for d in result.documents) == ["_sources/orphan.rst", "patterns/sqlite3", "quickstart"]
    copies = 'copies of the sources of pages that are read instead (Sphinx\'s "Show Source")'
    # one report for the folder: a Sphinx build has hundreds of copies
    assert {p.source: p.reason for p in result.problems} == {str(site / "_sources"): f"{copies}: 2 files"}


def test_a_built_site_is_read_without_its_generated_pages_theme_files_and_not_found_page(
    tmp_path: Path,
) -> None:
    """What Sphinx makes beside the pages would answer questions with chrome: its search page ("Searching for
    multiple words only shows matches that contain all words."), its indexes ("a| b| c|"), the licence of its
    theme's font, and the page a server shows for a bad address ("The page you requested does not exist.")."""
    site = tmp_path / "html"
    page = (
        "<html><head><title>{title}</title><link rel='index' title='Index' href='{index}'>"
        "<link rel='search' title='Search' href='{search}'></head><body><div role='main'><h1>{title}</h1>"
        "{body}</div></body></html>"
    )
    write(
        site / "quickstart.html",
        page.format(
            title="Quickstart", index="genindex.html", search="search.html",
            body="<p>Flask will look for templates in the templates folder.</p>",
        ),
    )  # fmt: skip
    generated = {
        "search.html": page.format(
            title="Search", index="genindex.html", search="#",
            body="<p>Searching for multiple words only shows matches that contain all words.</p>",
        ),
        "genindex.html": page.format(
            title="Index", index="#", search="search.html",
            body="<p>Index pages by letter: Symbols | A | B</p><p>Full index on one page</p>",
        ),
        "py-modindex.html": page.format(
            title="Python Module Index", index="genindex.html", search="search.html",
            body="<table class='indextable modindextable'><tr><td>flask</td><td>The web framework.</td></tr>"
            "<tr><td>flask.json</td><td>Reading and writing JSON for requests and responses.</td></tr></table>",
        ),
    }  # fmt: skip
    for name, html in generated.items():
        write(site / name, html)
    not_found = write(
        site / "404.html",
        "<html><head><title>Page Not Found</title></head><body><main><h1>Page Not Found</h1><p>The page you "
        "requested does not exist. You may have followed a bad link.</p></main></body></html>",
    )
    write(
        site / "_static" / "atkinson" / "LICENSE.txt", "Permission is hereby granted to use this font freely."
    )
    write(site / "_static" / "flask.css", "body { color: black }")
    write(site / "_static" / "notes.md", "# Theme notes\n\nThe sidebar is sticky on wide screens.")

    result = load_documents([site])
    assert [d.id for d in result.documents] == ["quickstart"]
    reported = {p.source: p.reason for p in result.problems}
    made = "made by the site's generator from its pages"
    assert reported == {
        str(site / "search.html"): f"the search page, {made}",
        str(site / "genindex.html"): f"the general index, {made}",
        str(site / "py-modindex.html"): f"an index of terms or modules, {made}",
        str(not_found): "the site's page for addresses that do not exist",
        str(site / "_static"): "a Sphinx build's theme files, not documentation: 3 files",
    }


def test_a_page_without_prose_is_reported_by_what_it_holds_instead(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A page of navigation and a page whose text is all in a code block (Flask's licence) are both skipped, and
    the report says which of the two each is, once: trafilatura's own warning for a page it discards ("discarding
    data: None") names no page."""
    licence = write(
        tmp_path / "license.html",
        "<html><head><title>BSD-3-Clause License</title></head><body><main><h1>BSD-3-Clause License</h1>"
        "<div class='highlight-text'><pre>Copyright 2010 Pallets\n\nRedistribution and use in source and binary "
        "forms, with or without modification, are permitted.</pre></div></main></body></html>",
    )
    contents = write(
        tmp_path / "contents.html",
        "<html><head><title>Contents</title></head><body><main><section id='contents'><h1>Contents<a "
        "class='headerlink' href='#contents'>#</a></h1><div class='toctree-wrapper compound'><ul>"
        + "".join(
            f"<li class='toctree-l1'><a class='reference internal' href='{page}.html'>{page.title()}</a><ul>"
            f"<li class='toctree-l2'><a class='reference internal' href='{page}.html#overview'>Overview</a></li>"
            "</ul></li>"
            for page in ("install", "configure")
        )
        + "</ul></div></section></main></body></html>",
    )
    with caplog.at_level(logging.WARNING):
        result = load_documents([tmp_path])
    assert not [record.getMessage() for record in caplog.records if record.name.startswith("trafilatura")]
    assert result.documents == []
    assert {p.source: p.reason for p in result.problems} == {
        str(licence): "no text to index outside code blocks",
        str(contents): "no main text to index (only navigation or a table of contents?)",
    }


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html", "a.jsonl"])
def test_a_file_with_binary_content_is_skipped_whole_not_half_indexed(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, b"Good start. \xff\xfe\x00 then garbage")
    result = load_documents([path])
    assert result.documents == []
    [problem] = result.problems
    assert problem.source == str(path) and "binary" in problem.reason


def test_markdown_code_blocks_lone_links_and_captions(tmp_path: Path) -> None:
    """A fence keeps its lines and is code; a list item that is only a link is a label, never an answer, and so
    is a short line on its own without closing punctuation (a caption, a link's title copied as text). A list
    item without a full stop is still a paragraph: release notes are written so."""
    doc = only_document(
        write(
            tmp_path / "links.md",
            "# Links\n\nRun it like this:\n\n```\nvote --early\n    --county Kent\n```\n\n"
            "- [Release notes](https://example.org/notes)\n- Read the [guide](https://example.org/g) first.\n"
            "- Added early voting in Kent\n\nCounty Election Infographic\n\nPolls close at eight.\n",
        )
    )
    kinds = {doc.block_text(block): block.kind for block in doc.blocks}
    assert kinds["vote --early\n    --county Kent"] == "code"
    assert kinds["Release notes"] == "label"
    assert kinds["Read the guide first."] == "paragraph"
    assert kinds["Added early voting in Kent"] == "paragraph"
    assert kinds["County Election Infographic"] == "label"
    assert kinds["Polls close at eight."] == "paragraph"


SAVED_PAGE = (
    "<html><head><title>{title}</title><link rel='canonical' href='{canonical}'></head>"
    "<body><main><h1>{title}</h1><p>The harbour ferry leaves the north pier every forty minutes.</p></main></body></html>"
)


def test_addresses_a_reader_cannot_open_are_dropped_with_a_warning(tmp_path: Path) -> None:
    write(
        tmp_path / "site" / "ferry.html",
        SAVED_PAGE.format(title="Ferry", canonical="file:///srv/site/ferry.html"),
    )
    write(tmp_path / "site" / "bus.html", SAVED_PAGE.format(title="Bus", canonical="https://example.org/bus"))
    write(tmp_path / "site" / "notes.txt", "Notes\n\nThe pier opens at dawn.\n")
    record = {"id": "x", "text": "Ferries run daily.", "url": "javascript:alert(1)"}
    write(tmp_path / "site" / "records.jsonl", json.dumps(record))
    result = load_documents([tmp_path / "site"])
    urls = {d.id: d.url for d in result.documents}
    assert urls == {"ferry": None, "bus": "https://example.org/bus", "notes": None, "x": None}
    [warning] = result.warnings
    assert "2 documents" in warning and "file:///srv/site/ferry.html" in warning and "--base-url" in warning


def test_base_url_gives_local_pages_their_public_address(tmp_path: Path) -> None:
    write(
        tmp_path / "site" / "ferry.html",
        SAVED_PAGE.format(title="Ferry", canonical="file:///srv/site/ferry.html"),
    )
    write(
        tmp_path / "site" / "guide" / "pier.html", SAVED_PAGE.format(title="Pier", canonical="../pier-2.html")
    )
    write(tmp_path / "site" / "bus.html", SAVED_PAGE.format(title="Bus", canonical="https://example.org/bus"))
    write(tmp_path / "site" / "notes.md", "# Notes\n\nThe pier opens at dawn.\n")
    write(
        tmp_path / "site" / "records.jsonl",
        json.dumps({"id": "r1", "text": "Ferries run daily.", "url": "r/1"}),
    )
    result = load_documents([tmp_path / "site"], base_url="https://docs.example.org/harbour/")
    assert (
        {d.id: d.url for d in result.documents}
        == {
            "ferry": "https://docs.example.org/harbour/ferry.html",
            "guide/pier": "https://docs.example.org/harbour/pier-2.html",  # its relative canonical, from where it is
            "bus": "https://example.org/bus",  # a web address stays as the page gave it
            "notes": "https://docs.example.org/harbour/notes.md",
            "r1": "https://docs.example.org/harbour/r/1",
        }
    )
    assert result.warnings == []


# --- limits: one hostile or broken file is reported and skipped, quickly, in bounded memory -----------------


def test_a_yaml_alias_bomb_in_front_matter_is_refused_at_once(tmp_path: Path) -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [{', '.join([f'*{previous}'] * 9)}]\n"
    path = write(tmp_path / "bomb.md", f"---\n{bomb}---\n\n# Title\n\nSome text here.\n")
    result = load_documents([path])
    [problem] = result.problems
    assert "aliases" in str(problem) and result.documents == []


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as sparse:  # 60 MB on paper, nothing on disk
        sparse.truncate(60_000_000)
    [problem] = load_documents([path]).problems
    assert "60 MB, over the 50 MB limit" in str(problem)


def test_pdf_page_and_time_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reportlab.pdfgen import canvas

    from ingest import loaders

    path = tmp_path / "two-pages.pdf"
    pdf = canvas.Canvas(str(path))
    for number in (1, 2):
        pdf.drawString(72, 720, f"Page {number} says the harbour ferry leaves every forty minutes.")
        pdf.showPage()
    pdf.save()
    assert load_documents([path]).documents  # within the limits
    monkeypatch.setattr(loaders, "MAX_PDF_PAGES", 1)
    assert "2 pages, over the 1 page limit" in str(load_documents([path]).problems[0])
    monkeypatch.setattr(loaders, "MAX_PDF_PAGES", 5000)
    monkeypatch.setattr(loaders, "PDF_SECONDS", -1.0)
    assert "text extraction took over" in str(load_documents([path]).problems[0])
