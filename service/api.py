"""The HTTP API (``/api/*``): a thin shell over the live ``Answerer``; request and response models in ``schemas``."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, jsonify, render_template, request
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.tag import Tag
from markdown_it import MarkdownIt
from markupsafe import Markup
from werkzeug.exceptions import BadRequest

from service.access import may_ask
from service.answering import Turn
from service.errors import CODES, RETRY_WHILE_LOADING, error_response
from service.insight import AskRecord, FeedbackRecord
from service.live import LiveAnswerer
from service.schemas import (
    AskRequest,
    AskResponse,
    DocumentPath,
    DocumentResponse,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    HealthResponse,
    ReadyResponse,
)

_ERRORS: dict[Any, Any] = {
    400: ErrorResponse,
    413: ErrorResponse,
    415: ErrorResponse,
    429: ErrorResponse,
    500: ErrorResponse,
    503: ErrorResponse,
}

api = APIBlueprint(
    "api",
    __name__,
    url_prefix="/api",
    abp_tags=[Tag(name="citewell", description="Answers quoted verbatim from the indexed documents.")],
)


def live_answerer() -> LiveAnswerer:
    live: LiveAnswerer = current_app.extensions["citewell"]
    return live


@api.post(
    "/ask",
    summary="Answer a question with verbatim quotes",
    description="Returns the passages that answer the question, best first, quoted verbatim with the answering "
    "sentence(s) highlighted; `answered` is false (with a `message`) when the documents do not answer it. "
    "When the service has API keys, send one as `Authorization: Bearer KEY` or `X-API-Key: KEY`.",
    operation_id="ask",
    responses={200: AskResponse, 401: ErrorResponse, **_ERRORS},
    security=[{}, {"bearer": []}, {"apiKey": []}],
)
def ask(body: AskRequest) -> Response:
    history = [Turn(turn.role, turn.content) for turn in body.history]
    started = time.perf_counter()
    answer = live_answerer().ask(body.question.strip(), history=history, top_k=body.top_k)
    latency_ms = (time.perf_counter() - started) * 1000
    answer_id = uuid.uuid4().hex
    question_log = current_app.extensions["citewell.questions"]
    if question_log is not None:
        question_log.record(AskRecord.of(answer_id, body.question.strip(), answer, latency_ms))
    return jsonify(AskResponse.of(answer, answer_id).model_dump(mode="json"))


@api.post(
    "/feedback",
    summary="Thumbs up or down on an answer",
    description="`answer_id` is the `id` of an `/api/ask` response; each answer takes one vote. Recorded for the "
    "site owner's `/admin` page.",
    operation_id="feedback",
    responses={202: FeedbackResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, **_ERRORS},
)
def give_feedback(body: FeedbackRequest) -> Response:
    question_log = current_app.extensions["citewell.questions"]
    if question_log is not None:
        state = question_log.answer_state(body.answer_id)
        if state == "unknown":  # another worker may have given it a moment ago and not written it yet
            time.sleep(question_log.flush_interval)
            state = question_log.answer_state(body.answer_id)
        if state == "unknown":
            return error_response(
                404, "no answer with this answer_id was given (or it is past the log's retention)"
            )
        if state == "rated":
            return error_response(409, "this answer has already been rated")
        comment = body.comment.strip() if body.comment else None
        question_log.record(FeedbackRecord(body.answer_id, datetime.now(UTC), body.helpful, comment or None))
    response = jsonify({"status": "recorded"})
    response.status_code = 202
    return response


@api.before_request
def check_posted_request() -> Response | None:
    """Key, media type and JSON syntax of a POST, checked before the body is validated against its model."""
    if request.method != "POST":
        return None  # CORS preflights (OPTIONS) are answered by flask-cors
    if not may_ask():
        return error_response(
            401, "an API key is required: send Authorization: Bearer KEY", {"WWW-Authenticate": "Bearer"}
        )
    if not request.is_json:
        return error_response(415, "send the body as JSON (Content-Type: application/json)")
    try:
        body = request.get_json()
    except BadRequest:
        return error_response(400, "the request body is not valid JSON")
    except RecursionError:  # the standard parser recurses once per level of [ or {
        return error_response(400, "the request body is nested too deeply")
    if not isinstance(body, dict):
        return error_response(400, "the request body must be a JSON object")
    return None


@api.get(
    "/documents/<path:document>",
    summary="The whole text of a document",
    description="The normalised text that every passage's `source.start`/`source.end` refer to.",
    operation_id="getDocument",
    responses={200: DocumentResponse, 400: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse},
)
def document(path: DocumentPath) -> Response:
    index = live_answerer().get().index
    # a dictionary lookup by id: a document name never becomes a file path
    found = index.documents.get(path.document)
    if found is None:
        return error_response(404, f"no document {path.document!r} in the index")
    return jsonify({"document": found.id, "title": found.title, "url": found.url, "text": found.text})


@api.get(
    "/health", summary="Liveness: the process is up", operation_id="health", responses={200: HealthResponse}
)
def health() -> Response:
    return jsonify({"status": "ok"})


@api.get(
    "/ready",
    summary="Readiness: the index and model are loaded",
    operation_id="ready",
    responses={200: ReadyResponse, 503: ErrorResponse},
)
def ready() -> Response:
    status = live_answerer().status()
    if not status.pop("ready"):
        return error_response(503, str(status["reason"]), {"Retry-After": RETRY_WHILE_LOADING})
    return jsonify({"status": "ready", **status})


@api.get("/openapi.json", summary="This API's OpenAPI 3.1 document", doc_ui=False)
def openapi_document() -> Response:
    return jsonify(current_app.api_doc)  # type: ignore[attr-defined]


@api.get("", summary="This API, described for people", doc_ui=False)
def api_page() -> str:
    """The OpenAPI document for people: descriptions as Markdown, a curl example per endpoint, the errors."""
    spec = current_app.api_doc  # type: ignore[attr-defined]
    base = request.url_root.rstrip("/")
    examples = {
        (path, method): _curl_example(base, path, method, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    return render_template(
        "api.html", spec=spec, examples=examples, errors=sorted(CODES.items()), markdown=_markdown
    )


# Bodies for the curl examples: the request models' own examples where they have one.
_EXAMPLE_BODIES = {
    "ask": {"question": "When was election infrastructure designated critical infrastructure?", "top_k": 3},
    "feedback": {"answer_id": "0123456789abcdef0123456789abcdef", "helpful": False, "comment": "too vague"},
}
_MARKDOWN = MarkdownIt("commonmark", {"html": False})  # descriptions are ours, but never rendered as raw HTML


def _markdown(text: str | None) -> Markup:
    return Markup(_MARKDOWN.render(text or ""))


def _curl_example(base: str, path: str, method: str, operation: dict[str, Any]) -> str:
    url = base + path.replace("{document}", "securing-elections")
    if method != "post":
        return f"curl {url}"
    body = json.dumps(_EXAMPLE_BODIES.get(operation.get("operationId", ""), {}))
    return f"curl -X POST {url} \\\n  -H 'Content-Type: application/json' \\\n  -d '{body}'"
