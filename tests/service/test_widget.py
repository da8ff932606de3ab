"""The chat widget in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright) against the real
service. Screenshots land in test-artifacts/ (the demo page, an answer, the phone view)."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from ingest import Embedder, build_index, load_documents

from ..conftest import CORPUS, REPO
from .conftest import ADMIN_TOKEN, ServerProcess

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
QUESTION = "When was election infrastructure designated critical infrastructure?"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "install Debian's chromium (make test does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    # failed loads are the subject of the failure test (and show up as assertions elsewhere); CSP violations,
    # script errors and dialogs are always problems
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and not message.text.startswith("Failed to load resource")
            and problems.append(message.text)
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
    yield page
    context.close()
    assert problems == []  # no script error, no CSP violation, no alert() from injected markup


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png")


def ask(page: Page, question: str) -> None:
    page.get_by_label("Your question").fill(question)
    page.get_by_label("Your question").press("Enter")


def last_answer(page: Page):  # type: ignore[no-untyped-def]
    return page.locator(".msg.bot:not(.typing)").last


def test_demo_page_example_question_shows_quote_highlight_and_source(
    server: ServerProcess, page: Page
) -> None:
    response = page.goto(server.url + "/")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    expect(page.get_by_role("heading", name="What it can answer from")).to_be_visible()
    expect(page.get_by_role("link", name="Securing Elections")).to_be_visible()
    shot(page, "demo-page")

    page.get_by_role("button", name=QUESTION).click()
    expect(page.locator(".msg.user").last).to_have_text(QUESTION)  # the question shows at once
    answer = last_answer(page)
    expect(answer.locator(".answer")).to_contain_text("January 6, 2017")
    expect(answer.locator("blockquote mark").first).to_contain_text("January 6, 2017")
    link = answer.locator(".source a").first
    assert link.get_attribute("href").startswith(
        "https://www.nass.org/initiatives/election-cybersecurity#:~:text="
    )
    more = answer.locator("button.more")
    expect(more).to_have_text("More sources (2)")
    expect(more).to_have_attribute("aria-expanded", "false")
    more.click()
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(more).to_have_text("Fewer sources (2)")
    expect(answer.locator("blockquote")).to_have_count(3)
    expect(page.get_by_role("status")).to_contain_text("Answer: ")
    shot(page, "answer")


def test_follow_up_sends_history_and_conversation_survives_reload(server: ServerProcess, page: Page) -> None:
    page.goto(server.url + "/chat")
    ask(page, "What did DHS do in January 2017?")
    expect(last_answer(page).locator(".answer")).to_contain_text("critical infrastructure")
    with page.expect_request("**/api/ask") as sent:
        ask(page, "Why did NASS oppose it?")
    body = json.loads(sent.value.post_data or "{}")
    assert [turn["role"] for turn in body["history"]] == ["user", "assistant"]
    assert body["history"][0]["content"] == "What did DHS do in January 2017?"
    expect(page.locator(".msg.bot:not(.typing) .answer")).to_have_count(2)

    page.reload()
    expect(page.locator(".msg.user")).to_have_count(2)  # sessionStorage kept the conversation
    page.get_by_role("button", name="Clear the conversation").click()
    expect(page.locator(".msg.user")).to_have_count(0)
    page.reload()
    expect(page.locator(".msg.user")).to_have_count(0)


def test_refusal_is_plain_with_clickable_suggestions(server: ServerProcess, page: Page) -> None:
    page.goto(server.url + "/chat")
    ask(page, "What is the boiling point of water?")
    refusal = last_answer(page)
    expect(refusal.locator(".refusal")).to_contain_text("do not answer")
    suggestions = refusal.locator("button.suggestion")
    expect(suggestions.first).to_be_visible()
    topic = suggestions.first.inner_text()
    suggestions.first.click()
    expect(page.locator(".msg.user").last).to_have_text(topic)


def test_network_failure_429_and_5xx_are_polite_with_retry_and_keep_the_input(
    server: ServerProcess, page: Page
) -> None:
    page.goto(server.url + "/chat")
    failures = iter(
        [
            lambda route: route.abort("connectionrefused"),
            lambda route: route.fulfill(status=429, json={"error": {"code": "rate_limited", "message": "x"}}),
            lambda route: route.fulfill(
                status=500, json={"error": {"code": "internal_error", "message": "x"}}
            ),
        ]
    )

    def fail_once(route: Route) -> None:
        next(failures)(route)

    for answers, expected in enumerate(
        ("connection failed", "Too many questions", "went wrong on our side"), 1
    ):
        page.route("**/api/ask", fail_once)
        ask(page, QUESTION)
        error = page.get_by_role("alert").last
        expect(error).to_contain_text(expected)
        expect(page.get_by_label("Your question")).to_have_value(QUESTION)
        page.unroute("**/api/ask")
        error.get_by_role("button", name="Retry").click()
        expect(page.get_by_role("alert")).to_have_count(0)
        expect(page.locator(".msg.bot .answer")).to_have_count(answers)
        expect(last_answer(page).locator(".answer")).to_contain_text("January 6, 2017")
        page.get_by_label("Your question").fill("")


def test_keyboard_only(server: ServerProcess, page: Page) -> None:
    page.goto(server.url + "/")
    launcher = page.get_by_role("button", name="Ask citewell")
    launcher.focus()
    page.keyboard.press("Enter")
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_label("Your question")).to_be_focused()
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(last_answer(page).locator(".answer")).to_contain_text("January 6, 2017")
    page.get_by_role("button", name="More sources (2)").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Fewer sources (2)")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_be_focused()


def test_phone_viewport_dark_and_reduced_motion(server: ServerProcess, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, color_scheme="dark", reduced_motion="reduce", is_mobile=True
    )
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        page.get_by_role("button", name="Ask citewell").click()
        ask(page, "Who oversees elections?")
        expect(last_answer(page).locator(".answer")).to_be_visible()
        box = page.get_by_role("dialog").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360  # nothing sticks out sideways
        background = page.get_by_role("dialog").evaluate("node => getComputedStyle(node).backgroundColor")
        assert background == "rgb(23, 25, 28)"  # the dark palette
        shot(page, "phone")
    finally:
        context.close()


def test_accessibility_scan_has_no_serious_violations(server: ServerProcess, page: Page) -> None:
    page.goto(server.url + "/")
    page.get_by_role("button", name=QUESTION).click()
    expect(last_answer(page).locator(".answer")).to_contain_text("January 6, 2017")
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, indent=1)[:3000]


def test_widget_script_is_small() -> None:
    source = (REPO / "service" / "static" / "widget.js").read_bytes()
    size = len(gzip.compress(source, 9))
    print(f"widget.js: {len(source)} bytes, {size} bytes gzipped")
    assert size < 15_000


@pytest.fixture
def other_origin(tmp_path: Path, server: ServerProcess) -> Iterator[str]:
    """A page on another origin (another port) that embeds the widget with one script tag."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><html lang='en'><head><title>County elections office</title>"
        "<style>* { color: red !important; font-size: 40px !important; } button { display: none !important; }</style>"
        f"<script src='{server.url}/widget.js' defer data-title='Ask the county' data-accent='#7a1f5c'></script>"
        "</head><body><h1>County elections office</h1></body></html>"
    )
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_embedded_on_another_origin_talks_across_origins_untouched_by_host_css(
    other_origin: str, page: Page
) -> None:
    page.goto(other_origin)
    launcher = page.get_by_role("button", name="Ask the county")
    expect(launcher).to_be_visible()  # the host page hides every button, but not inside the Shadow DOM
    assert launcher.evaluate("node => getComputedStyle(node).backgroundColor") == "rgb(122, 31, 92)"
    launcher.click()
    ask(page, QUESTION)
    expect(last_answer(page).locator(".answer")).to_contain_text("January 6, 2017")
    assert page.locator("h1").evaluate("node => getComputedStyle(node).color") == "rgb(255, 0, 0)"


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("hostile")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "markup.txt").write_text(
        "Markup lessons\n\nThe tag <img src=x onerror=alert(1)> shows how an image tag with an error handler "
        "looks. The word <b>bold</b> is written with a b element.\n"
    )
    build_index(load_documents([corpus, CORPUS]).documents, folder / "index", embedder=embedder)
    server = ServerProcess(folder / "index", folder / "server.log", {"RATE_LIMIT": "100000/minute"})
    try:
        server.wait_until("/api/ready")
        yield server
    finally:
        server.stop()


def test_document_markup_is_shown_as_text_never_run(hostile_server: ServerProcess, page: Page) -> None:
    page.goto(hostile_server.url + "/chat")
    ask(page, "How does an image tag with an error handler look?")
    answer = last_answer(page)
    expect(answer.locator(".answer")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(answer.locator("img")).to_have_count(0)
    expect(page.locator("b")).to_have_count(0)
    ask(page, "<img src=y onerror=alert(2)> and <script>alert(3)</script>?")
    expect(page.locator(".msg.user").last).to_have_text(
        "<img src=y onerror=alert(2)> and <script>alert(3)</script>?"
    )
    expect(page.locator("img")).to_have_count(0)


def test_thumbs_down_in_the_widget_shows_on_the_admin_page(
    server: ServerProcess, page: Page, browser: Browser
) -> None:
    question = "Which office in Atlantis certifies mermaid ballots?"
    page.goto(server.url + "/chat")
    ask(page, question)
    answer = last_answer(page)
    expect(answer.locator(".refusal")).to_be_visible()
    answer.get_by_role("button", name="Not helpful").click()
    expect(answer.locator(".feedback")).to_have_text("Thanks for the feedback.")

    context = browser.new_context(http_credentials={"username": "owner", "password": ADMIN_TOKEN})
    admin = context.new_page()
    try:
        for _ in range(50):  # the question log is written in the background
            admin.goto(server.url + "/admin")
            if admin.get_by_role("cell", name=question).count():
                break
            admin.wait_for_timeout(200)
        expect(
            admin.get_by_role("heading", name="Not answered: what to add to the documents")
        ).to_be_visible()
        expect(admin.get_by_role("cell", name=question.lower().rstrip("?")).first).to_be_visible()
        expect(admin.get_by_role("cell", name=question)).to_be_visible()  # in the thumbs-down table
        expect(admin.locator("svg.chart rect").first).to_be_attached()
        shot(admin, "admin")
        serious = [
            v for v in Axe().run(admin).response["violations"] if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], json.dumps(serious, indent=1)[:3000]
    finally:
        context.close()
