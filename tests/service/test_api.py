"""The HTTP API over real HTTP: `citewell serve` (gunicorn, real model, real index) in a subprocess."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import requests

from ingest import Embedder, ingest_paths

from ..conftest import CORPUS, SHARED
from .conftest import ServerProcess


def assert_json_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"] and "Traceback" not in body["error"]["message"]
    return body


def test_health_and_ready_report_the_loaded_index(server: ServerProcess) -> None:
    assert requests.get(server.url + "/api/health", timeout=5).json() == {"status": "ok"}
    ready = requests.get(server.url + "/api/ready", timeout=5).json()
    assert ready["status"] == "ready"
    assert ready["documents"] == 1
    assert ready["passages"] > 5
    assert ready["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert ready["query_precision"] == "float32" and ready["sentence_vectors"] is False


def test_ask_quotes_the_document_verbatim_with_offsets_into_documents_endpoint(server: ServerProcess) -> None:
    response = server.ask("When was election infrastructure designated critical infrastructure?", top_k=3)
    assert response.status_code == 200
    body = response.json()
    assert body["answered"] is True
    assert "January 6, 2017" in body["answer"]
    assert 1 <= len(body["passages"]) <= 3
    first = body["passages"][0]
    [highlight] = first["highlights"][:1]
    assert body["answer"] == first["text"][highlight["start"] : first["highlights"][-1]["end"]]
    for passage in body["passages"]:
        source = passage["source"]
        document = requests.get(f"{server.url}/api/documents/{source['document']}", timeout=5).json()
        assert document["text"][source["start"] : source["end"]] == passage["text"]
        assert source["title"] == document["title"] == "Securing Elections"
        assert source["url"] == document["url"]
    spans = sorted((p["source"]["start"], p["source"]["end"]) for p in body["passages"])
    assert all(end <= next_start for (_, end), (next_start, _) in pairwise(spans))


def test_top_k_and_refusal(server: ServerProcess) -> None:
    many = server.ask("Who oversees elections?", top_k=8).json()
    assert len(many["passages"]) == 8
    refused = server.ask("What is the boiling point of water?").json()
    assert refused["answered"] is False
    assert refused["answer"] == ""
    assert "do not answer" in refused["message"]
    # the topics to suggest come as a list: the nearest sections, each once (this page has one)
    sections = [p["source"]["section"] or p["source"]["title"] for p in refused["passages"]]
    assert refused["topics"] == [sections[0]]
    last = refused["topics"][-1]
    assert refused["message"].endswith(last + ("" if last[-1] in ".?!" else "."))
    assert "?." not in refused["message"]


def test_follow_up_uses_history(server: ServerProcess) -> None:
    first = server.ask("What did DHS do in January 2017?").json()
    history = [
        {"role": "user", "content": "What did DHS do in January 2017?"},
        {"role": "assistant", "content": first["answer"]},
    ]
    follow_up = server.ask("Why did NASS oppose it?", history=history).json()
    assert follow_up["answered"] is True
    assert "designation" in " ".join(p["text"] for p in follow_up["passages"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "question is required"),
        ({"question": ""}, "question"),
        ({"question": "   \n\t "}, "question must not be empty"),
        ({"question": "x" * 1001}, "question"),
        ({"question": 42}, "question"),
        ({"question": "ok?", "top_k": 0}, "top_k"),
        ({"question": "ok?", "top_k": 51}, "top_k"),
        ({"question": "ok?", "top_k": "3"}, "top_k"),
        ({"question": "ok?", "top_k": True}, "top_k"),
        ({"question": "ok?", "history": "earlier"}, "history"),
        ({"question": "ok?", "history": [{"role": "user", "content": "x"}] * 21}, "history"),
        ({"question": "ok?", "history": [{"role": "system", "content": "x"}]}, "history.0.role"),
        ({"question": "ok?", "history": [{"role": "user"}]}, "history.0.content is required"),
        # a misspelt field is named, not silently replaced by its default
        ({"question": "ok?", "topk": 5}, "unknown field: topk"),
        ({"question": "ok?", "top_k": 2, "stream": True, "lang": "en"}, "unknown fields: stream, lang"),
        ({"question": "ok?", "history": [{"role": "user", "content": "x", "name": "a"}]}, "history.0.name"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(
    server: ServerProcess, body: dict[str, Any], message: str
) -> None:
    response = requests.post(server.url + "/api/ask", json=body, timeout=10)
    assert message in assert_json_error(response, 400, "bad_request")["error"]["message"]


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "bad_request"),
        ("[1, 2]", "application/json", 400, "bad_request"),
        ("null", "application/json", 400, "bad_request"),
        ('"a string"', "application/json", 400, "bad_request"),
        (b"\xff\xfe{", "application/json", 400, "bad_request"),
        ('{"question": "hi"}', "text/plain", 415, "unsupported_media_type"),
        ("question=hi", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ('{"question": "' + "x" * 70_000 + '"}', "application/json", 413, "payload_too_large"),
    ],
)
def test_malformed_bodies(
    server: ServerProcess, data: str | bytes, content_type: str, status: int, code: str
) -> None:
    response = requests.post(
        server.url + "/api/ask", data=data, headers={"Content-Type": content_type}, timeout=10
    )
    assert_json_error(response, status, code)


def test_other_errors_are_json_never_html(server: ServerProcess) -> None:
    wrong_method = requests.get(server.url + "/api/ask", timeout=5)
    assert_json_error(wrong_method, 405, "method_not_allowed")
    assert "POST" in wrong_method.headers["Allow"]
    assert_json_error(requests.delete(server.url + "/api/health", timeout=5), 405, "method_not_allowed")
    assert_json_error(requests.get(server.url + "/api/nothing-here", timeout=5), 404, "not_found")
    unknown = requests.get(server.url + "/api/documents/no-such-document", timeout=5)
    assert "no-such-document" in assert_json_error(unknown, 404, "not_found")["error"]["message"]
    for sneaky in ("../../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e/manifest.json", "CURRENT"):
        response = requests.get(f"{server.url}/api/documents/{sneaky}", timeout=5)
        assert response.status_code == 404
        assert "root:" not in response.text


def test_cors_preflight_from_another_origin(server: ServerProcess) -> None:
    preflight = requests.options(
        server.url + "/api/ask",
        headers={
            "Origin": "https://elections.example.gov",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
        timeout=5,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", "https://elections.example.gov")
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "content-type" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    answer = server.ask("Who oversees elections?", headers={"Origin": "https://elections.example.gov"})
    assert answer.headers["Access-Control-Allow-Origin"] in ("*", "https://elections.example.gov")


def test_openapi_document_and_api_page(server: ServerProcess) -> None:
    spec = requests.get(server.url + "/api/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == {
        "/api/ask",
        "/api/feedback",
        "/api/documents/{document}",
        "/api/health",
        "/api/ready",
    }
    ask_request = spec["components"]["schemas"]["AskRequest"]
    assert ask_request["required"] == ["question"]
    assert ask_request["properties"]["top_k"]["maximum"] == 50
    assert ask_request["additionalProperties"] is False  # the document says what the server enforces
    page = requests.get(server.url + "/api", timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "/api/ask" in page.text and "AskRequest" in page.text
    # for people: descriptions rendered from Markdown, a curl example per endpoint, the error codes
    assert "`" not in page.text and "<code>message</code>" in page.text
    assert page.text.count("<h3>Example</h3>") == len(spec["paths"])
    assert f"curl -X POST {server.url}/api/ask" in page.text
    assert (
        "<td><code>rate_limited</code></td>" in page.text and "Other fields are refused (400)." in page.text
    )
    assert "At most 1000 characters." in page.text


def test_favicon_is_served(server: ServerProcess) -> None:
    icon = requests.get(server.url + "/favicon.ico", timeout=5)
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")


def test_access_log_has_one_line_per_request_with_latency(server: ServerProcess) -> None:
    requests.get(server.url + "/api/health?probe=access-log", timeout=5)
    lines: list[str] = []
    for _ in range(50):  # the line is written just after the response goes out
        lines = [line for line in server.log().splitlines() if "probe=access-log" in line]
        if lines:
            break
        time.sleep(0.1)
    assert len(lines) == 1
    assert re.search(r'"GET /api/health\?probe=access-log HTTP/1.1" 200 \d+B \d+ms$', lines[0])


@pytest.fixture(scope="module")
def locked_server(
    corpus_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """Keys required except from the widget's site; CORS only for that site; a tight rate limit."""
    log = tmp_path_factory.mktemp("locked") / "server.log"
    settings = {
        "API_KEYS": "key-alpha,key-beta",
        "KEYLESS_ORIGINS": '["https://widget.example"]',
        "CORS_ORIGINS": '["https://widget.example"]',
        "RATE_LIMIT": "4/minute",
    }
    with ServerProcess(corpus_index_dir, log, settings) as process:
        yield process


def test_questions_asked_at_once_get_the_answers_they_get_alone(
    corpus_index_dir: Path, tmp_path: Path
) -> None:
    """Requests that arrive together share the model's calls: each must still get its own question's answer."""
    # no answer cache, so that every request goes through the model; no question log, which would be the one
    # beside the shared index that other tests read
    settings = {"RATE_LIMIT": "", "ANSWER_CACHE_SIZE": "0", "QUESTION_LOG": "off"}
    server = ServerProcess(corpus_index_dir, tmp_path / "server.log", settings)
    try:
        server.wait_until("/api/ready")
        dev_file = SHARED / "eval" / "dev-questions.jsonl"
        questions = [json.loads(line)["question"] for line in dev_file.read_text().splitlines()]
        alone = {question: server.ask(question).json() for question in questions}
        with ThreadPoolExecutor(16) as pool:
            together = list(pool.map(lambda q: (q, server.ask(q).json()), questions * 3))
        for question, body in together:
            expected = alone[question]
            assert (body["answered"], body["answer"]) == (expected["answered"], expected["answer"]), question
            assert [p["source"] for p in body["passages"]] == [p["source"] for p in expected["passages"]]
            scores = [p["score"] for p in body["passages"]]
            assert scores == pytest.approx([p["score"] for p in expected["passages"]], abs=1e-3)
    finally:
        server.stop()


def test_api_keys_when_configured(locked_server: ServerProcess) -> None:
    question = "Who oversees elections?"
    missing = locked_server.ask(question)
    assert_json_error(missing, 401, "unauthorized")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert_json_error(locked_server.ask(question, headers={"X-API-Key": "key-alph"}), 401, "unauthorized")
    assert locked_server.ask(question, headers={"Authorization": "Bearer key-alpha"}).status_code == 200
    assert locked_server.ask(question, headers={"X-API-Key": "key-alpha"}).status_code == 200
    assert locked_server.ask(question, headers={"Origin": "https://widget.example"}).status_code == 200
    assert_json_error(
        locked_server.ask(question, headers={"Origin": "https://evil.example"}), 401, "unauthorized"
    )
    assert "key-alpha" not in locked_server.log()  # keys never reach the log


def test_cors_allow_list(locked_server: ServerProcess) -> None:
    def preflight(origin: str) -> requests.Response:
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        return requests.options(locked_server.url + "/api/ask", headers=headers, timeout=5)

    assert (
        preflight("https://widget.example").headers["Access-Control-Allow-Origin"] == "https://widget.example"
    )
    assert "Access-Control-Allow-Origin" not in preflight("https://evil.example").headers


def test_rate_limit_per_client_answers_429_with_retry_after(locked_server: ServerProcess) -> None:
    key = {"Authorization": "Bearer key-beta"}  # a client of its own: its key
    statuses = [locked_server.ask("Who oversees elections?", headers=key).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    limited = locked_server.ask("Who oversees elections?", headers=key)
    assert_json_error(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # the health endpoints are not limited
    assert requests.get(locked_server.url + "/api/ready", timeout=5).status_code == 200


@pytest.mark.slow
def test_starts_unready_then_serves_and_reloads_new_indexes_under_requests(
    tmp_path: Path, embedder: Embedder
) -> None:
    index_dir = tmp_path / "index"
    server = ServerProcess(index_dir, tmp_path / "server.log", {"RATE_LIMIT": ""})
    try:
        assert server.wait_until("/api/health").json() == {"status": "ok"}
        messages = set()
        while not any("no index" in message for message in messages):  # "loading" while the model loads
            not_ready = server.wait_until("/api/ready", status=503)
            messages.add(assert_json_error(not_ready, 503, "not_ready")["error"]["message"])
            assert len(messages) <= 2, messages
        waiting = server.ask("Who oversees elections?")
        assert_json_error(waiting, 503, "not_ready")
        assert waiting.headers["Retry-After"]

        corpus = tmp_path / "corpus"
        corpus.mkdir()
        (corpus / "securing-elections.md").write_text((CORPUS / "securing-elections.md").read_text())
        ingest_paths([corpus], index_dir, embedder=embedder)
        server.wait_until("/api/ready", timeout=60)

        failures: list[str] = []
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                response = server.ask("Which bird lives in the citewell aviary?")
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text}")

        askers = [threading.Thread(target=keep_asking) for _ in range(3)]
        for asker in askers:
            asker.start()
        (corpus / "aviary.md").write_text(
            "# The citewell aviary\n\nThe citewell aviary is home to a single bird, a grey heron called Quill.\n"
        )
        ingest_paths([corpus], index_dir, embedder=embedder)
        answer: dict[str, Any] = {}
        for _ in range(100):
            answer = server.ask("Which bird lives in the citewell aviary?").json()
            if "grey heron" in answer["answer"]:
                break
            threading.Event().wait(0.2)
        stop.set()
        for asker in askers:
            asker.join()
        assert "grey heron called Quill" in answer["answer"], json.dumps(answer)[:500]
        assert failures == []
        assert requests.get(server.url + "/api/ready", timeout=5).json()["documents"] == 2
    finally:
        code = server.stop()
    assert code == 0, server.log()
    assert "Shutting down" in server.log()
