"""The chat widget in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright) against the real
service. Screenshots land in test-artifacts/ (the demo page, an answer, the phone view)."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

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
    expect(answer.locator("blockquote mark").first).to_contain_text("January 6, 2017")
    # the answer is shown once, as the highlight of its quote, not again as a line of its own
    assert answer.inner_text().count("January 6, 2017") == 1
    expect(answer.locator(".answer")).to_have_count(0)
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
    expect(last_answer(page).locator("mark").first).to_contain_text("critical infrastructure")
    with page.expect_request("**/api/ask") as sent:
        ask(page, "Why did NASS oppose it?")
    body = json.loads(sent.value.post_data or "{}")
    assert [turn["role"] for turn in body["history"]] == ["user", "assistant"]
    assert body["history"][0]["content"] == "What did DHS do in January 2017?"
    expect(page.locator(".msg.bot:not(.typing) > .passage")).to_have_count(2)

    page.reload()
    expect(page.locator(".msg.user")).to_have_count(2)  # sessionStorage kept the conversation
    page.get_by_role("button", name="Clear the conversation").click()
    expect(page.locator(".msg.user")).to_have_count(0)
    page.reload()
    expect(page.locator(".msg.user")).to_have_count(0)


def test_a_huge_earlier_answer_does_not_block_the_next_question(server: ServerProcess, page: Page) -> None:
    """The history sent with a follow-up holds each turn's text trimmed to 1,000 characters: a 60,000-character
    answer earlier in the conversation must not make every later request too large (413)."""
    page.goto(server.url + "/chat")
    long_text = "The harbour ferry leaves every forty minutes. " * 1300
    huge = {
        "id": "f" * 32,
        "answered": True,
        "answer": long_text,
        "passages": [
            {
                "text": long_text,
                "score": 0.9,
                "highlights": [{"start": 0, "end": len(long_text)}],
                "source": {
                    "document": "d",
                    "title": "Ferries",
                    "section": None,
                    "url": None,
                    "start": 0,
                    "end": 1,
                },
                "code": [],
            }
        ],
    }
    page.route("**/api/ask", lambda route: route.fulfill(status=200, json=huge))
    ask(page, "How often does the ferry leave?")
    expect(page.locator(".msg.bot > .passage")).to_have_count(1)
    page.unroute("**/api/ask")
    with page.expect_response("**/api/ask") as answered:
        ask(page, QUESTION)
    assert answered.value.status == 200
    body = json.loads(answered.value.request.post_data or "{}")
    assert [len(turn["content"]) for turn in body["history"]] == [
        len("How often does the ferry leave?"),
        1000,
    ]


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


def test_failures_say_what_happened_honour_retry_after_and_keep_the_input(
    server: ServerProcess, page: Page
) -> None:
    page.goto(server.url + "/chat")
    failures = iter(
        [
            lambda route: route.abort("connectionrefused"),
            lambda route: route.fulfill(
                status=429,
                headers={"Retry-After": "3"},
                json={"error": {"code": "rate_limited", "message": "x"}},
            ),
            lambda route: route.fulfill(
                status=500, json={"error": {"code": "internal_error", "message": "x"}}
            ),
        ]
    )

    def fail_once(route: Route) -> None:
        next(failures)(route)

    for answers, expected in enumerate(
        ("could not be reached", "You can ask again in 3 seconds", "went wrong on the chat service"), 1
    ):
        page.route("**/api/ask", fail_once)
        ask(page, QUESTION)
        error = page.get_by_role("alert").last
        expect(error).to_contain_text(expected)
        assert "network" not in error.inner_text()  # a stopped server is not the visitor's network
        expect(page.get_by_label("Your question")).to_have_value(QUESTION)
        page.unroute("**/api/ask")
        retry = error.get_by_role("button", name=re.compile("Retry"))
        if answers == 2:  # Retry waits as long as Retry-After asks
            expect(retry).to_be_disabled()
            expect(retry).to_have_text(re.compile(r"Retry in [123] s"))
        retry.click()  # waits until it is enabled
        expect(page.get_by_role("alert")).to_have_count(0)
        expect(page.locator(".msg.bot > .passage")).to_have_count(answers)
        expect(last_answer(page).locator("mark").first).to_contain_text("January 6, 2017")
        page.get_by_label("Your question").fill("")


def test_a_missing_key_tells_the_visitor_plainly_with_no_useless_retry(
    server: ServerProcess, page: Page
) -> None:
    page.goto(server.url + "/chat")
    page.route(
        "**/api/ask",
        lambda route: route.fulfill(
            status=401,
            json={"error": {"code": "unauthorized", "message": "an API key is required: send Bearer"}},
        ),
    )
    ask(page, QUESTION)
    error = page.get_by_role("alert").last
    expect(error).to_contain_text("not set up to answer on this site")
    assert "Bearer" not in error.inner_text()  # no developer text for a visitor
    expect(error.get_by_role("button")).to_have_count(0)
    expect(page.get_by_label("Your question")).to_have_value(QUESTION)


def test_stop_cancels_a_slow_answer_and_gives_the_question_back(server: ServerProcess, page: Page) -> None:
    page.goto(server.url + "/chat")
    page.route("**/api/ask", lambda route: None)  # never answered: a frozen server
    ask(page, QUESTION)
    expect(page.locator(".typing")).to_be_visible()
    stop = page.get_by_role("button", name="Stop waiting for the answer")
    stop.click()
    expect(page.locator(".typing")).to_have_count(0)
    expect(page.locator(".msg.user")).to_have_count(0)
    expect(page.get_by_label("Your question")).to_have_value(QUESTION)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()


def test_a_long_paste_is_kept_whole_and_explained(server: ServerProcess, page: Page) -> None:
    page.goto(server.url + "/chat")
    question = "Who oversees elections? " * 84  # 2,016 characters
    page.get_by_label("Your question").fill(question)
    expect(page.get_by_label("Your question")).to_have_value(question)  # not silently cut to 1,000
    expect(page.locator("#cw-hint")).to_contain_text(f"this one has {len(question)}")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    page.get_by_label("Your question").fill("Who oversees elections?")
    expect(page.locator("#cw-hint")).to_be_hidden()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()


def test_keyboard_only(server: ServerProcess, page: Page) -> None:
    page.goto(server.url + "/")
    launcher = page.get_by_role("button", name="Ask citewell")
    launcher.focus()
    page.keyboard.press("Enter")
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_label("Your question")).to_be_focused()
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(last_answer(page).locator("mark").first).to_contain_text("January 6, 2017")
    page.get_by_role("button", name="More sources (2)").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Fewer sources (2)")).to_be_visible()
    # Tab stays in the open chat (WAI-ARIA dialog pattern) ...
    for _ in range(25):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "CITEWELL-CHAT"
    for _ in range(5):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate("document.activeElement.tagName") == "CITEWELL-CHAT"
    # ... and Escape closes it from wherever focus is inside, back to the launcher
    page.get_by_role("log", name="Conversation").focus()
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
        expect(last_answer(page).locator("mark").first).to_be_visible()
        box = page.get_by_role("dialog").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360  # nothing sticks out sideways
        background = page.get_by_role("dialog").evaluate("node => getComputedStyle(node).backgroundColor")
        assert background == "rgb(23, 25, 28)"  # the dark palette
        shot(page, "phone")
        page.get_by_role("button", name="Close the chat").click()
        # closed, the launcher is a small round button in the corner, not a bar over the page's text
        launcher = page.get_by_role("button", name="Ask citewell").bounding_box()
        assert launcher is not None and launcher["width"] <= 56 and launcher["height"] <= 56
        assert launcher["x"] + launcher["width"] >= 340 and launcher["y"] + launcher["height"] >= 720
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_accessibility_scan_has_no_serious_violations(
    server: ServerProcess, browser: Browser, scheme: str
) -> None:
    """axe, colour contrast included, over the demo page with an answer, a refusal and an error showing."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        page.get_by_role("button", name=QUESTION).click()
        expect(last_answer(page).locator("mark").first).to_contain_text("January 6, 2017")
        ask(page, "What is the boiling point of water?")
        expect(last_answer(page).locator(".refusal")).to_be_visible()
        page.route("**/api/ask", lambda route: route.abort("connectionrefused"))
        ask(page, "Who oversees elections?")
        expect(page.get_by_role("alert")).to_be_visible()
        results = Axe().run(page)
        serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], json.dumps(serious, indent=1)[:3000]
        assert any(rule["id"] == "color-contrast" for rule in results.response["passes"])
        shot(page, f"answer-{scheme}")
    finally:
        context.close()


# An ordinary legacy stylesheet and a hostile one: every rule here would reach a widget whose host is a div or
# whose inherited properties flow in from the page.
HOST_CSS = (
    "div, section { text-align: center; line-height: 2.2; font-family: Georgia, serif; padding: 30px; "
    "border: 5px solid green; letter-spacing: 3px; }"
    "* { color: red !important; font-size: 30px !important; text-transform: uppercase !important; }"
    "button { display: none !important; }"
)


@pytest.fixture
def other_origin(tmp_path: Path, server: ServerProcess) -> Iterator[str]:
    """A page on another origin (another port) with hostile CSS that embeds the widget with one script tag."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><html lang='en'><head><title>County elections office</title>"
        f"<style>{HOST_CSS}</style>"
        f"<script src='{server.url}/widget.js' defer data-title='Ask the county' data-accent='#7a1f5c'"
        " data-timeout='2'></script>"
        "</head><body><h1>County elections office</h1><div>Opening hours</div></body></html>"
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


def style(locator: Any, *properties: str) -> list[str]:
    return [locator.evaluate(f"node => getComputedStyle(node).{name}") for name in properties]


def test_embedded_on_another_origin_talks_across_origins_untouched_by_host_css(
    other_origin: str, page: Page
) -> None:
    page.goto(other_origin)
    launcher = page.get_by_role("button", name="Ask the county")
    expect(launcher).to_be_visible()  # the host page hides every button, but not inside the Shadow DOM
    assert launcher.evaluate("node => getComputedStyle(node).backgroundColor") == "rgb(122, 31, 92)"
    launcher.click()
    ask(page, QUESTION)
    answer = last_answer(page)
    expect(answer.locator("mark").first).to_contain_text("January 6, 2017")
    shot(page, "embedded-hostile-css")
    # nothing of the page's rules reaches the widget: not by selector, not by inheritance
    quote = answer.locator("blockquote").first
    text_align, line_height, font_family, font_size, letter_spacing, transform = style(
        quote, "textAlign", "lineHeight", "fontFamily", "fontSize", "letterSpacing", "textTransform"
    )
    assert text_align == "left" and transform == "none" and letter_spacing == "normal"
    assert font_size == "15px" and line_height == "21.75px"  # 15px times 1.45
    assert "Georgia" not in font_family and "system-ui" in font_family
    assert style(page.locator("#cw-title"), "fontSize") == ["15.75px"]  # the title stays on one line
    assert page.locator("#cw-title").bounding_box()["height"] < 30  # type: ignore[index]
    host = page.locator("citewell-chat")
    assert style(host, "paddingTop", "borderTopWidth") == ["0px", "0px"]  # no stray box on the page
    # the page itself still gets its own styles
    assert page.locator("h1").evaluate("node => getComputedStyle(node).color") == "rgb(255, 0, 0)"


def test_a_frozen_server_times_out_with_a_clear_message(other_origin: str, page: Page) -> None:
    page.goto(other_origin)
    page.route("**/api/ask", lambda route: None)  # the request is never answered
    page.get_by_role("button", name="Ask the county").click()
    ask(page, QUESTION)
    error = page.get_by_role("alert")
    expect(error).to_contain_text("No answer came within 2 seconds", timeout=10_000)
    expect(error.get_by_role("button", name="Retry")).to_be_enabled()
    expect(page.get_by_label("Your question")).to_have_value(QUESTION)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("hostile")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "markup.txt").write_text(
        "Markup lessons\n\nThe tag <img src=x onerror=alert(1)> shows how an image tag with an error handler "
        "looks. The word <b>bold</b> is written with a b element.\n"
    )
    (corpus / "lighthouse.md").write_text(
        "# Running the lighthouse\n\nTo start the lighthouse lamp server, run this command:\n\n"
        "```\nlamp-server start \\\n    --beam wide\n```\n\nThe lamp then turns once every ten seconds.\n"
    )
    (corpus / "saved-page.html").write_text(
        "<html><head><title>Ferry timetable</title><link rel='canonical' href='file:///srv/site/ferry.html'></head>"
        "<body><main><h1>Ferry timetable</h1><p>The harbour ferry leaves the north pier every forty minutes "
        "between dawn and dusk.</p></main></body></html>"
    )
    build_index(load_documents([corpus, CORPUS]).documents, folder / "index", embedder=embedder)
    with ServerProcess(folder / "index", folder / "server.log", {"RATE_LIMIT": "100000/minute"}) as server:
        yield server


def test_document_markup_is_shown_as_text_never_run(hostile_server: ServerProcess, page: Page) -> None:
    page.goto(hostile_server.url + "/chat")
    ask(page, "How does an image tag with an error handler look?")
    answer = last_answer(page)
    expect(answer.locator("mark").first).to_contain_text("<img src=x onerror=alert(1)>")
    expect(answer.locator("img")).to_have_count(0)
    expect(page.locator("b")).to_have_count(0)
    ask(page, "<img src=y onerror=alert(2)> and <script>alert(3)</script>?")
    expect(page.locator(".msg.user").last).to_have_text(
        "<img src=y onerror=alert(2)> and <script>alert(3)</script>?"
    )
    expect(page.locator("img")).to_have_count(0)


def test_code_keeps_its_lines_in_monospace_beside_the_sentence_that_introduces_it(
    hostile_server: ServerProcess, page: Page
) -> None:
    page.goto(hostile_server.url + "/chat")
    ask(page, "How do I start the lighthouse lamp server?")
    answer = last_answer(page)
    expect(answer.locator("mark").first).to_contain_text("To start the lighthouse lamp server")
    code = answer.locator("blockquote code").first
    expect(code).to_have_text("lamp-server start \\\n    --beam wide")
    family, white_space = style(code, "fontFamily", "whiteSpace")
    assert "monospace" in family and white_space == "pre"


@pytest.mark.parametrize(
    ("section", "shown"),
    [
        ("5. Data Structures", "Source: 5. Data Structures — Python 3.11 documentation"),
        ("5.4. Sets", "Source: 5. Data Structures — Python 3.11 documentation — 5.4. Sets"),
    ],
)
def test_a_source_names_its_section_unless_the_title_already_does(
    server: ServerProcess, page: Page, section: str, shown: str
) -> None:
    text = "A set is an unordered collection with no duplicate elements."
    source = {"document": "datastructures", "title": "5. Data Structures — Python 3.11 documentation"}
    source |= {"section": section, "url": None, "start": 0, "end": len(text)}
    answer = {
        "id": "a" * 32,
        "answered": True,
        "answer": text,
        "passages": [
            {"text": text, "score": 0.8, "highlights": [{"start": 0, "end": len(text)}], "source": source}
        ],
    }
    page.goto(server.url + "/chat")
    page.route("**/api/ask", lambda route: route.fulfill(status=200, json=answer))
    ask(page, "What is a set?")
    expect(last_answer(page).locator(".source").first).to_have_text(shown)


def test_a_source_without_a_web_address_is_named_not_linked(
    hostile_server: ServerProcess, page: Page
) -> None:
    page.goto(hostile_server.url + "/chat")
    ask(page, "How often does the harbour ferry leave the north pier?")
    source = last_answer(page).locator(".source").first
    expect(source).to_contain_text("Ferry timetable")
    expect(source.locator("a")).to_have_count(0)  # file:///srv/site/ferry.html opens nothing for a visitor


def test_thumbs_down_in_the_widget_shows_on_the_admin_page(
    server: ServerProcess, page: Page, browser: Browser
) -> None:
    question = "Which office in Atlantis certifies mermaid ballots?"
    page.goto(server.url + "/chat")
    ask(page, question)
    answer = last_answer(page)
    expect(answer.locator(".refusal")).to_be_visible()
    up, down = (
        answer.get_by_role("button", name="Helpful", exact=True),
        answer.get_by_role("button", name="Not helpful"),
    )
    # the thumbs are drawn, not emoji that need a font: each an SVG with an accessible name on its button
    expect(up.locator("svg")).to_have_count(1)
    expect(down.locator("svg")).to_have_count(1)
    down.click()
    answer.get_by_label("What was wrong? (optional)").fill("mermaids vote by post")
    answer.get_by_role("button", name="Send feedback").click()
    expect(answer.locator(".feedback")).to_have_text("Thanks for the feedback.")

    context = browser.new_context(http_credentials={"username": "owner", "password": ADMIN_TOKEN})
    admin = context.new_page()
    try:
        for _ in range(50):  # the question log is written in the background: wait for the vote's comment too
            admin.goto(server.url + "/admin")
            if admin.get_by_role("cell", name="mermaids vote by post", exact=True).count():
                break
            admin.wait_for_timeout(200)
        expect(
            admin.get_by_role("heading", name="Not answered: what to add to the documents")
        ).to_be_visible()
        expect(admin.get_by_role("cell", name=question.lower().rstrip("?")).first).to_be_visible()
        # in the table of questions with what citewell said, and in the thumbs-down table
        expect(admin.get_by_role("cell", name=question, exact=True)).to_have_count(2)
        expect(
            admin.get_by_role("cell", name="not helpful: mermaids vote by post", exact=True)
        ).to_be_visible()
        expect(admin.get_by_role("cell", name="mermaids vote by post", exact=True)).to_be_visible()
        expect(admin.get_by_role("list", name="Legend")).to_contain_text("not answered")
        expect(admin.locator("svg.chart rect").first).to_be_attached()
        shot(admin, "admin")
        serious = [
            v for v in Axe().run(admin).response["violations"] if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], json.dumps(serious, indent=1)[:3000]
    finally:
        context.close()
