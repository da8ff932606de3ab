"""The service's errors, and every error it returns as the contract's JSON: ``{"error": {"code": ..., "message": ...}}``.

    ServiceError
    ├── ConfigError   a setting or settings file that cannot be used: the command stops with one line
    └── NotReady      no index is loaded (yet): a request gets 503 with Retry-After

``error_document`` is the one place such a body is made (``error_response`` for Flask, ``service.serving`` for
what the server answers before the app runs); ``register_error_handlers`` routes every failure (HTTP errors
raised by Flask, its extensions or our views, ``NotReady``, validation errors, and anything unexpected) to it,
so no HTML error page or stack trace ever reaches a client.

A library's errors are caught where citewell calls it, in one module each: the answer cache's Redis in
``service.answer_cache`` (logged once; answers go uncached until it is back), SQLAlchemy's in ``service.insight``
(a refused write is retried, then dropped and counted for ``/admin``; a refused read is a 500 like any unexpected
error), TOML's in ``service.config`` (``ConfigError``), pydantic's and Flask's HTTP errors here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

# A client is told to retry this many seconds after a 503 while the index loads.
RETRY_WHILE_LOADING = "5"


class ServiceError(Exception):
    """Base of the errors the service raises itself."""


class ConfigError(ServiceError):
    """A setting, or a settings file, that cannot be read, parsed or used."""


class NotReady(ServiceError):
    """No index is loaded (yet): the service answers 503."""


CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "not_ready",
}

MESSAGES = {
    404: "there is nothing at this address",
    405: "this address does not accept that method",
    413: "the request body is too large",
    429: "too many requests; slow down and retry later",
    500: "something went wrong on our side; the error is logged",
}


def error_document(status: int, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": CODES.get(status, "error"), "message": message}}


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    response = jsonify(error_document(status, message))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def validation_error_response(error: ValidationError) -> Response:
    """A request that does not match the schema: name the first offending field in plain words."""
    errors = error.errors(include_url=False)
    unknown = [".".join(str(part) for part in e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        return error_response(400, f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "missing":
        message = f"{field} is required"
    elif first["type"] == "string_pattern_mismatch" and field == "question":
        message = "question must not be empty"
    else:
        message = f"{field}: {first['msg'][:1].lower()}{first['msg'][1:]}"
    return error_response(400, message)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if isinstance(error.response, Response) and error.response.mimetype == "application/json":
            return error.response  # already ours (a validation error)
        headers = {
            name: value
            for name, value in (error.get_headers() if status in (405, 429) else [])
            if name.lower() in ("allow", "retry-after")
        }
        if status == 429:
            headers.setdefault("Retry-After", "60")
        message = MESSAGES.get(status) if status in (404, 405, 413, 429) else None
        return error_response(status, message or _plain(error), headers)

    @app.errorhandler(NotReady)
    def not_ready(error: NotReady) -> Response:
        return error_response(503, str(error), {"Retry-After": RETRY_WHILE_LOADING})

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, MESSAGES[500])


def _plain(error: HTTPException) -> str:
    description = error.description or error.name
    return description if len(description) < 300 else error.name
