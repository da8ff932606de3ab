"""HTML main-content extraction: documentation pages keep their text and structure and lose their chrome.

One table of expectations per page: chrome that must reach neither a passage nor the document text
(navigation, sidebars, breadcrumbs, footers, cookie banners, edit links, heading anchors, comments), strings
that must never be a passage on their own (table-of-contents entries, navigation links), the sentences filed
under each heading (the heading must be their passage's ``section``), table cells, and two lines of a code
block whose line break and indentation must survive. The fixtures in tests/data/html/ imitate four site
generators; the real DocBook and AsciiDoc pages are read from the shared data beside the checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import lxml.html
import pytest

from ingest import Document, Passage, chunk_document
from ingest.errors import BadDocument
from ingest.loaders import read_file

from ..conftest import PYTHON_TUTORIAL, SHARED

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "html"
PG, GIT = SHARED / "corpora" / "postgresql-15", SHARED / "corpora" / "git-docs"
DOCBOOK_NAV = ("Prev", "Up", "Home", "Next")  # the link rows of the navheader and navfooter tables


@dataclass(frozen=True)
class Page:
    """What one page must (and must not) yield; ``sections`` maps a heading to sentences and list items under
    it (``None``: text before the first section heading, checked for presence only)."""

    path: Path
    chrome: tuple[str, ...]
    sections: dict[str | None, tuple[str, ...]]
    cells: tuple[str, ...] = ()
    code: str | None = None
    not_passages: tuple[str, ...] = ()


SPHINX = Page(
    FIXTURES / "sphinx.html",
    chrome=("Navigation", "modules | next | previous", "Larkspur 3.1 documentation", "Operator handbook",
            "Table of Contents", "Previous topic", "Welcome to Larkspur", "Next topic", "Configuring Larkspur",
            "This Page", "Show Source", "Quick search", "© Copyright 2025", "Created using", "¶"),
    not_passages=("index", "System requirements", "Installing from a package", "Verifying the installation",
                  "Command-line options"),
    sections={
        None: ("Larkspur is a command-line tool that takes deduplicated, encrypted snapshots of directories and ships them to object storage.",
               "If you are upgrading from the 2.x series, read the migration notes first, because the repository format changed in version 3.0 and older clients cannot read new snapshots."),
        "System requirements": ("It needs about 40 MB of disk space for the binary and its cache, plus enough free space in the cache directory to hold the chunk index of your largest repository.",
                                "A kernel with inotify support if you want continuous mode on Linux.",
                                "OpenSSL 3.0 or newer, or the bundled BoringSSL build.",
                                "Outbound HTTPS access to your storage endpoint on port 443."),
        "Installing from a package": ("The recommended way to install Larkspur is through your system package manager, which also installs the shell completions and the manual pages.",
                                      "To take a nightly snapshot of several hosts from a single machine, wrap the snapshot command in a small shell loop and run it from cron:",
                                      "Each iteration opens its own connection, so one unreachable host does not stop the snapshots of the others."),
        "Verifying the installation": ("Run larkspur doctor after installing.",
                                       "A failing endpoint check usually means that a proxy is intercepting TLS connections; set LARKSPUR_CA_BUNDLE to the proxy\u2019s certificate to fix it."),
        # named after its heading, the section's id holds a word trafilatura reads as furniture ("shar")
        "Sharing a repository between hosts": ("Several hosts may write to one repository at the same time: each takes a lock only while it updates the index.",),
        "Command-line options": ("List the files a snapshot would read and the chunks it would upload, without contacting the storage endpoint.",
                                 "Take one snapshot of path from Python and return its identifier, or raise an error after timeout seconds.",
                                 # a sentence that is mostly short cross-references, which trafilatura reads as a list of links
                                 "Sets --dry-run for run() calls.",
                                 # a footnote (docutils writes it as an <aside>), under the last heading before it
                                 "Over a satellite link the endpoint may take longer; raise the limit with --doctor-timeout."),
    },
    cells=("Minimum version", "glibc 2.31", "12 Monterey", "Homebrew formula", "13.2-RELEASE", "pkg from the ports tree"),
    code='for host in web01 web02 db01; do\n    larkspur snapshot --host "$host" --tag nightly',
)  # fmt: skip
MKDOCS = Page(
    FIXTURES / "mkdocs-material.html",
    chrome=("Skip to content", "Ferrous Relay 4.0 is out", "Initializing search", "ferrous-relay/relay", "User guide",
            "Monitoring with Prometheus", "Mutual TLS between relays", "Table of contents", "Edit this page",
            "March 3, 2025", "Was this page helpful?", "Thanks for your feedback", "Back to top", "Previous",
            "Deploying behind a load balancer", "The Ferrous Relay Authors", "Material for MkDocs", "Cookie consent",
            "We use cookies", "Google Analytics", "Manage settings", "¶"),
    not_passages=("Home", "Installation", "Configuration", "The configuration file", "Settings reference", "Reloading without downtime"),
    sections={
        None: ("Ferrous Relay reads its settings from a single YAML file when the daemon starts.",),
        "The configuration file": ("By default relayctl looks for relay.yaml in the current directory, then in /etc/ferrous-relay.",
                                   "Upstreams with a higher weight receive proportionally more messages, and an upstream that fails three health checks in a row is taken out of rotation until it recovers."),
        "Settings reference": ("The table below lists the settings that most deployments change.",),
        "Reloading without downtime": ("Connections that are already open keep their old settings until they close, so a reload never drops a message in flight.",
                                       "Changes to listen require a full restart.",
                                       "Removing an upstream drains it before closing its connections.",
                                       "Invalid files are rejected and the running configuration stays in place.",
                                       "A reload re-reads secrets from disk as well, so rotate the TLS key files before sending the signal, not after."),
    },
    cells=("batch_size", "127.0.0.1:7400", "Messages forwarded in one request", "250ms", "Longest time a partial batch waits"),
    code="upstreams:\n    - name: primary",
)  # fmt: skip
DOCUSAURUS = Page(
    FIXTURES / "docusaurus.html",
    chrome=("Skip to main content", "Showcase", "Next (unreleased)", "Five-minute quickstart", "Operator Guides",
            "Running agents in Kubernetes", "Passing secrets to jobs", "Troubleshooting FAQ", "Version: 2.1",
            "On this page", "Tags:", "Edit this page", "Last updated", "Ines Duarte", "Was this page helpful?",
            "Previous", "Sending notifications", "Stack Overflow", "Built with Docusaurus", "We use cookies", "Decline"),
    not_passages=("Home", "Docs", "Scheduling jobs", "Writing a schedule", "Time zones and daylight saving", "Missed runs"),
    sections={
        None: ("Cronweave runs commands on a schedule across a fleet of machines and makes sure that each run happens exactly once, even when several agents are online.",),
        "Writing a schedule": ("Each job needs a unique name, a time of day or a cron expression, and the command to run.",
                               "A name may contain lowercase letters, digits and hyphens.",
                               "Use either at or cron in a job, never both.",
                               "Commands run through /bin/sh with the project directory as the working directory.",
                               "It rejects duplicate names, unknown time zones and cron expressions that would never fire."),
        "Time zones and daylight saving": ("Times are interpreted in the time zone given at the top of the file, or in UTC when none is set.",
                                           "Schedule maintenance jobs between 01:00 and 03:00 only when you have checked how your time zone handles the change to summer time."),
        "Missed runs": ("If every agent is offline when a job is due, the run is missed.",
                        "Replaying is rarely what you want for reports, because a week of missed runs would produce seven identical files in a row."),
    },
    cells=("Behaviour", "catch-up", "The missed run is dropped and the following one happens on time.",
           "One run starts as soon as an agent is back online.", "Every missed run is replayed in order."),
    code='"jobs": [\n    { "name": "nightly-report"',
)  # fmt: skip
WORDPRESS = Page(
    FIXTURES / "wordpress.html",
    chrome=("Skip to content", "Driftnote Help Center", "Answers for people who write everywhere", "Getting Started",
            "Self-hosted servers", "Contact Support", "Posted on", "Marta Okafor", "Share this:", "Related",
            "Was this page helpful?", "Categories", "Tags", "Replies to", "says:", "forty minutes down to six",
            "Glad it helped", "Leave a Reply", "Your email address will not be published", "Post navigation",
            "Exporting notebooks to Markdown", "Sharing a notebook with your team", "Recent Posts", "Recent Comments",
            "Archives", "Setting up two-factor sign-in", "Log in", "powered by WordPress", "Privacy Policy", "We use cookies"),
    not_passages=("Home", "Billing", "X", "Facebook", "Email", "Reply"),
    sections={
        None: ("Most sync delays in Driftnote come from a handful of causes: very large attachments, a notebook that is shared with hundreds of people, or a network that throttles long-lived connections.",
               "Before you start, update the desktop client to version 5.2 or later, since older versions retried failed uploads far too aggressively and could stall for minutes."),
        "Check what is being synced": ("Driftnote prints every file it uploads together with its size and the time the upload took.",
                                       "If the log is dominated by a few large files, exclude them in the sync section of your settings file:",
                                       "Patterns are matched against paths relative to the notebook folder, and a pattern ending in two asterisks excludes a whole directory tree."),
        "Frequently asked questions": ("Excluded files simply stop being uploaded; copies that were already synced stay where they are until you remove them yourself.",
                                       "Driftnote only uploads the parts of a note that changed since the last sync.",
                                       "Collect the following details before you contact our support team:",
                                       "The output of driftnote sync --verbose for one slow run.",
                                       "Your operating system and the Driftnote version shown in the About dialog.",
                                       "Whether the slowdown also happens on a different network."),
    },
    cells=("Largest attachment", "10 MB/s", "250 MB", "Unlimited", "2 GB"),
    code="exclude =\n    attachments/*.mov",
)  # fmt: skip
# Real pages. DocBook (PostgreSQL): navheader/navfooter tables and the section's table of contents are chrome.
TUTORIAL_VIEWS = Page(
    PG / "tutorial-views.html",
    chrome=("Chapter 3. Advanced Features", "3.1. Introduction", "3.3. Foreign Keys"),
    not_passages=(*DOCBOOK_NAV, "3.2. Views"),
    sections={None: ("Refer back to the queries in Section 2.6.",
                     "Making liberal use of views is a key aspect of good SQL database design.",
                     "Building views upon other views is not uncommon.")},
    code="CREATE VIEW myview AS\n    SELECT name, temp_lo, temp_hi, prcp, date, location",
)  # fmt: skip
TUTORIAL_ARCH = Page(
    PG / "tutorial-arch.html",
    chrome=("Chapter 1. Getting Started", "1.1. Installation", "1.3. Creating a Database"),
    not_passages=(*DOCBOOK_NAV, "1.2. Architectural Fundamentals"),
    sections={None: ("In database jargon, PostgreSQL uses a client/server model.",
                     "The database server program is called postgres.",
                     "The user's client (frontend) application that wants to perform database operations.",
                     "To achieve this it starts (“forks”) a new process for each connection.")},
)  # fmt: skip
DDL_CONSTRAINTS = Page(
    PG / "ddl-constraints.html",
    chrome=("Chapter 5. Data Definition", "5.3. Generated Columns", "5.5. System Columns"),
    not_passages=(*DOCBOOK_NAV, "5.4. Constraints", "5.4.1. Check Constraints", "5.4.2. Not-Null Constraints",
                  "5.4.3. Unique Constraints", "5.4.4. Primary Keys", "5.4.5. Foreign Keys", "5.4.6. Exclusion Constraints"),
    sections={
        None: ("Data types are a way to limit the kind of data that can be stored in a table.",),
        "5.4.1. Check Constraints": ("A check constraint is the most generic constraint type.",
                                     "A check constraint consists of the key word CHECK followed by an expression in parentheses.",
                                     "It's a matter of taste."),
        "5.4.2. Not-Null Constraints": ("A not-null constraint is always written as a column constraint.",),
        "5.4.3. Unique Constraints": ("Adding a unique constraint will automatically create a unique B-tree index on the column or group of columns listed in the constraint.",),
        "5.4.4. Primary Keys": ("A table can have at most one primary key.",),
        "5.4.5. Foreign Keys": ("We say this maintains the referential integrity between two related tables.",),
        "5.4.6. Exclusion Constraints": ("Adding an exclusion constraint will automatically create an index of the type specified in the constraint declaration.",),
    },
    code="CREATE TABLE products (\n    product_no integer,\n    name text,\n    price numeric CHECK (price > 0)",
)  # fmt: skip
# A reference page: trafilatura keeps some of its headings ("Note") and drops the others, which are put back.
SQL_COPY = Page(
    PG / "sql-copy.html",
    chrome=("SQL Commands", "CLUSTER", "CREATE ACCESS METHOD"),
    not_passages=(*DOCBOOK_NAV, "Synopsis", "Description", "Parameters", "Notes"),
    sections={
        None: ("COPY — copy data between a file and a table",),
        "Description": ("COPY moves data between PostgreSQL tables and standard file-system files.",),
        "Outputs": ("On successful completion, a COPY command returns a command tag of the form",),
        "Notes": ("COPY TO can be used only with plain tables, not views, and does not copy rows from child tables or child partitions.",),
        "CSV Format": ("This format option is used for importing and exporting the Comma Separated Value (CSV) file format used by many other programs, such as spreadsheets.",),
        "Compatibility": ("There is no COPY statement in the SQL standard.",),
    },
)  # fmt: skip
# AsciiDoc (Git): the manpage footer, and the DocBook-rendered user manual's tables of contents; the manpage's
# NAME line, which AsciiDoc writes in the page's header, is content.
GIT_ADD = Page(
    GIT / "git-add.html",
    chrome=("Last updated", "2024-05-31 00:35:55 UTC"),
    sections={
        "NAME": ("git-add - Add file contents to the index",),
        "DESCRIPTION": ("This command updates the index using the current content found in the working tree, to prepare the content staged for the next commit.",
                        "This command can be performed multiple times before a commit."),
        "OPTIONS": ("Allow adding otherwise ignored files.",),
        "EXAMPLES": ("Note that the asterisk * is quoted from the shell in this example; this lets the command include the files from subdirectories of Documentation/ directory.",),
        "INTERACTIVE MODE": ("The main command loop has 6 subcommands (plus help and quit).",),
        "CONFIGURATION": ("Everything below this line in this section is selectively included from the git-config(1) documentation.",),
    },
    code="*** Commands ***\n      1: status       2: update",
)  # fmt: skip
USER_MANUAL = Page(
    GIT / "user-manual.html",
    chrome=("Table of Contents",),
    not_passages=("1. Repositories and Branches", "2. Exploring Git history", "A. Git Quick Reference",
                  "How to get a Git repository", "Understanding history: What is a branch?"),
    sections={
        "Introduction": ("Git is a fast distributed revision control system.",),
        "How to get a Git repository": ("It will be useful to have a Git repository to experiment with as you read this manual.",
                                        "The initial clone may be time-consuming for a large project, but you will only need to clone once."),
        "Understanding history: What is a branch?": ('However, when no confusion will result, we often just use the term "branch" both for branches and for branch heads.',),
    },
    code="$ git clone git://git.kernel.org/pub/scm/git/git.git\n        # the Linux kernel (approx. 640MB download):",
)  # fmt: skip

GENERATED = [SPHINX, MKDOCS, DOCUSAURUS, WORDPRESS]
PAGES = [*GENERATED, TUTORIAL_VIEWS, TUTORIAL_ARCH, DDL_CONSTRAINTS, SQL_COPY, GIT_ADD, USER_MANUAL]
each_page = pytest.mark.parametrize("page", PAGES, ids=lambda page: page.path.stem)


def collapse(text: str) -> str:
    return " ".join(text.split())


@cache
def _load(path: Path) -> tuple[Document, tuple[Passage, ...]]:
    [document] = list(read_file(path, path.stem))
    assert isinstance(document, Document)
    return document, tuple(chunk_document(document))


def load(page: Page) -> tuple[Document, tuple[Passage, ...]]:
    if page.path.is_relative_to(SHARED) and not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return _load(page.path)


@each_page
def test_chrome_is_left_out(page: Page) -> None:
    doc, passages = load(page)
    text = collapse(doc.text)
    leaked = [c for c in page.chrome if c in text or any(c in p.text for p in passages)]
    standalone = [p.text for p in passages if collapse(p.text) in page.not_passages]
    assert (leaked, standalone) == ([], [])


@each_page
def test_main_content_is_kept(page: Page) -> None:
    doc, _ = load(page)
    text = collapse(doc.text)
    expected = [s for sentences in page.sections.values() for s in sentences] + list(page.cells)
    assert [s for s in expected if collapse(s) not in text] == []


@each_page
def test_headings_become_sections(page: Page) -> None:
    _, passages = load(page)
    expected = {s: {section} for section, sentences in page.sections.items() if section for s in sentences}
    found = {s: {p.section for p in passages if collapse(s) in collapse(p.text)} for s in expected}
    assert found == expected


@pytest.mark.parametrize("page", [p for p in PAGES if p.code], ids=lambda page: page.path.stem)
def test_code_block_keeps_its_lines(page: Page) -> None:
    doc, _ = load(page)
    assert page.code is not None and page.code in doc.text
    assert doc.block_at(doc.text.index(page.code)).kind == "code"


@each_page
def test_passages_are_slices_of_the_document_text(page: Page) -> None:
    doc, passages = load(page)
    assert passages
    assert [p for p in passages if doc.text[p.start : p.end] != p.text] == []


def test_titles_of_notes_terms_and_lone_links_are_labels() -> None:
    """Text a reader sees but that never answers on its own: an admonition's title, a definition term, a
    pointer to another page ("See gitmailmap(5).")."""
    document, _ = _load(FIXTURES / "sphinx.html")
    assert document.block_at(document.text.index("Note")).kind == "label"
    terms = [
        document.block_text(term)
        for term in document.terms_of(document.block_at(document.text.index("List the files")))
    ]
    assert terms == ["-n, --dry-run"]
    [signature] = document.terms_of(document.block_at(document.text.index("Take one snapshot")))
    assert " ".join(document.block_text(signature).split()) == "larkspur.snapshot(path, timeout=30)"
    git_add, _ = _load(GIT / "git-add.html")
    assert {b.kind for b in git_add.blocks if git_add.block_text(b) == "--dry-run"} == {"label"}
    assert git_add.block_at(git_add.text.index("actually add the file(s)")).kind == "paragraph"
    git_blame, _ = _load(GIT / "git-blame.html")
    assert {b.kind for b in git_blame.blocks if git_blame.block_text(b) == "See gitmailmap(5)."} == {"label"}
    git_init, _ = _load(GIT / "git-init.html")
    pointer = git_init.block_at(git_init.text.index("for more general info on hook execution"))
    assert pointer.kind == "paragraph"  # it says what is there: a sentence


def test_a_heading_put_back_does_not_part_a_term_from_its_description() -> None:
    """initdb's page loses its headings in trafilatura. "-A authmethod" is not found in the page's text, whose
    ``<br>`` runs its two spellings together, and "Options" had been put back between it and its description."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    initdb, _ = _load(PG / "app-initdb.html")
    described = initdb.block_at(initdb.text.index("This option specifies the default authentication method"))
    assert [" ".join(initdb.block_text(term).split()) for term in initdb.terms_of(described)] == [
        "-A authmethod --auth=authmethod"
    ]
    options = next(block for block in initdb.blocks if initdb.block_text(block) == "Options")
    assert options.kind == "heading" and options.start < initdb.text.index("-A authmethod")


def test_a_cross_reference_with_only_pointing_words_beside_it_is_a_label(tmp_path: Path) -> None:
    """Python's FAQ answered "Why must 'self' be used explicitly …?" with "See also Why must 'self' be used
    explicitly in method definitions and calls?.": the full stop after the link counted as a third word of
    prose, so the link was unwrapped and the pointer read as a sentence."""
    page = tmp_path / "programming.html"
    page.write_text(
        "<html><head><meta charset='utf-8'><title>Programming FAQ</title></head><body><div role='main'><h1>Programming FAQ</h1>"
        "<p>A method defined as meth(self, a) is called as x.meth(a) for some instance x of its class.</p>"
        "<p>See also <a class='reference internal' href='design.html#why-self'><span class='std std-ref'>Why "
        "must \u2018self\u2019 be used explicitly in method definitions and calls?</span></a>.</p>"
        "<p>See the <a class='reference internal' href='unicode.html'><span>Unicode HOWTO</span></a>.</p>"
        "<p>See the <a class='reference internal' href='tempfile.html'><span>tempfile</span></a> module.</p>"
        "</div></body></html>",
        encoding="utf-8",
    )
    document, _ = _load(page)
    kinds = {document.block_text(block): block.kind for block in document.blocks}
    assert (
        kinds["See also Why must \u2018self\u2019 be used explicitly in method definitions and calls?."]
        == "label"
    )
    assert kinds["See the Unicode HOWTO."] == "label"
    assert kinds["See the tempfile module."] == "paragraph"  # it names what to use: an answer


BOX_TITLES = {
    "sphinx": '<div class="admonition"><p class="admonition-title">{}</p><p>{}</p></div>',
    "mkdocs-material": '<div class="admonition tip"><p class="admonition-title">{}</p><p>{}</p></div>',
    "docusaurus": '<div class="theme-admonition alert"><div class="admonitionHeading_Gvgb">'
    '<span class="admonitionIcon_Rf37"><svg viewBox="0 0 12 16"></svg></span>{}</div>'
    '<div class="admonitionContent_BuS1"><p>{}</p></div></div>',
    "sphinx topic": '<div class="topic"><p class="topic-title">{}</p><p>{}</p></div>',
}


@pytest.mark.parametrize("generator", BOX_TITLES)
def test_the_title_of_an_admonition_is_a_label_over_its_text_whatever_its_length(
    tmp_path: Path, generator: str
) -> None:
    """ "How to generate good secret keys" over a Flask quickstart's note reads like the answer to "How should I
    generate a secret key?" and says nothing: a label, which describes the box's text as a term does."""
    title, text = "How to generate good secret keys", "A secret key should be as random as possible."
    box = BOX_TITLES[generator].format(title, text)
    page = tmp_path / "quickstart.html"
    page.write_text(
        f"<html><body><main><h1>Sessions</h1><p>In order to use sessions you have to set a secret key.</p>{box}"
        "<p>Flask will take the values you put into the session object and put them into a cookie.</p>"
        "</main></body></html>",
        encoding="utf-8",
    )
    document, _ = _load(page)
    assert [(b.kind, document.block_text(b)) for b in document.blocks] == [
        ("heading", "Sessions"),
        ("paragraph", "In order to use sessions you have to set a secret key."),
        ("label", title),
        ("paragraph", text),
        (
            "paragraph",
            "Flask will take the values you put into the session object and put them into a cookie.",
        ),
    ]
    [term] = document.terms_of(document.block_at(document.text.index(text)))
    assert document.block_text(term) == title


def test_content_named_like_chrome_by_its_id_is_kept(tmp_path: Path) -> None:
    """A guide's section about cookies or breadcrumbs is content: only classes may name furniture by part."""
    page = tmp_path / "guide.html"
    page.write_text(
        "<html><head><title>Sessions</title></head><body><main><h1>Sessions</h1>"
        "<section id='cookies'><h2 id='cookies-heading'>Cookies</h2>"
        "<p>The framework signs every session cookie with the secret key, so a client cannot change it.</p>"
        "</section><div class='cookie-notice'><p>We use cookies. Accept?</p></div></main></body></html>",
        encoding="utf-8",
    )
    document, passages = _load(page)
    assert [p.section for p in passages] == ["Cookies"]
    assert "signs every session cookie" in passages[0].text
    assert "We use cookies" not in document.text


def test_no_paragraph_of_a_real_sphinx_site_is_lost() -> None:
    """Every paragraph of Python's tutorial (17 Sphinx pages) is in its document: trafilatura drops footnotes
    (docutils' asides), sections whose id holds a word it reads as furniture ("…-unrelated-exceptions"), and
    sentences that are mostly cross-references, unless they are prepared for it."""
    pages = sorted(PYTHON_TUTORIAL.glob("*.html"))
    if not pages:
        pytest.skip(f"Python's tutorial is not at {PYTHON_TUTORIAL} (`make test` unpacks it)")
    lost = []
    for path in pages:
        document, _ = _load(path)
        text = collapse(document.text)
        [main] = lxml.html.parse(str(path)).getroot().xpath("//div[@role='main']")
        for paragraph in main.iter("p"):
            words = collapse(paragraph.text_content()).replace("¶", "").strip()
            if len(words) >= 20 and words[:60] not in text:
                lost.append(f"{path.stem}: {words[:60]}")
    assert len(pages) == 17 and lost == []


def test_the_generated_pages_of_real_sites_are_not_read_as_documentation() -> None:
    """Python's search page, general index and module index (Sphinx) and PostgreSQL's book index (DocBook, 3,148
    index terms) are made from the other pages: their entries ("a|", "ABORT") are not text to answer from. The
    pages beside them that have content are read."""
    html = PYTHON_TUTORIAL.parent
    if not html.is_dir() or not SHARED.is_dir():
        pytest.skip("Python's documentation (`make test` unpacks it) or the shared data is missing")
    made = "made by the site's generator from its pages"
    generated = {
        html / "search.html": f"the search page, {made}",
        html / "genindex.html": f"the general index, {made}",
        html / "genindex-A.html": f"an index of terms or modules, {made}",
        html / "py-modindex.html": f"an index of terms or modules, {made}",
        PG / "bookindex.html": f"an index of terms or modules, {made}",
    }
    for path, reason in generated.items():
        with pytest.raises(BadDocument) as raised:
            read_file(path, path.stem)
        assert raised.value.reason == reason, path
    for path in (
        html / "tutorial" / "index.html",
        html / "glossary.html",
        PG / "glossary.html",
        PG / "index.html",
    ):
        _load(path)
