"""The application factory: configuration, the live answerer, CORS, rate limits, errors and the routes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask_cors import CORS
from flask_limiter import Limiter
from flask_openapi3.models.info import Info
from flask_openapi3.openapi import OpenAPI
from werkzeug.middleware.proxy_fix import ProxyFix

from ingest import Embedder
from service.access import charged_as_keyless, rate_limit_client
from service.admin import admin
from service.answer_cache import open_answer_cache
from service.answering import AnswerSettings
from service.api import api
from service.config import load_config
from service.errors import register_error_handlers, validation_error_response
from service.headers import security_headers
from service.insight import QuestionLog
from service.live import LiveAnswerer
from service.pages import pages
from service.schemas import ErrorResponse

logger = logging.getLogger(__name__)

ADMIN_FAILURES_LIMIT = "10/minute;100/day"


def create_app(config: Mapping[str, Any] | None = None, *, embedder: Embedder | None = None) -> OpenAPI:
    """Build the citewell web application; the index loads in the background (``/api/ready`` says when).

    ``config`` overrides the settings of ``service.config`` (defaults, file, environment); ``embedder`` lets
    a caller that already holds the model share it.

    Example:
        >>> app = create_app({"INDEX": ".citewell/index"})
        >>> app.test_client().get("/api/health").json
        {'status': 'ok'}
    """
    app = OpenAPI(
        __name__,
        info=Info(
            title="citewell",
            version="1",
            description="Answers questions with verbatim, cited quotes from its documents.",
        ),
        security_schemes={
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        },
        doc_ui=False,
        validation_error_status=400,
        validation_error_model=ErrorResponse,
        validation_error_callback=validation_error_response,
    )
    load_config(app.config, config)
    app.json.sort_keys = False  # type: ignore[attr-defined] # keep the contract's field order
    if app.config["PROXY_HOPS"]:
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    settings = AnswerSettings()
    if app.config["MIN_SCORE"] is not None:
        settings = AnswerSettings(min_score=float(app.config["MIN_SCORE"]))
    live = LiveAnswerer(
        Path(app.config["INDEX"]),
        app.config["MODEL"],
        settings,
        precision=app.config["QUERY_PRECISION"],
        reload_interval=float(app.config["RELOAD_INTERVAL"]),
        cache=open_answer_cache(
            str(app.config["ANSWER_CACHE_URI"]),
            size=int(app.config["ANSWER_CACHE_SIZE"]),
            seconds=float(app.config["ANSWER_CACHE_SECONDS"]),
        ),
        embedder=embedder,
    )
    app.extensions["citewell"] = live
    app.extensions["citewell.questions"] = _question_log(app.config)

    CORS(
        app,
        resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
        supports_credentials=False,
        methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "Authorization", "X-API-Key"],
        expose_headers=["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"],
        max_age=600,
    )
    limiter = Limiter(
        rate_limit_client,
        app=app,
        storage_uri=app.config["RATE_LIMIT_STORAGE_URI"],
        headers_enabled=True,
        default_limits=[],
    )
    if app.config["RATE_LIMIT"]:
        limiter.limit(app.config["RATE_LIMIT"], methods=["POST"])(api)
    if app.config["KEYLESS_RATE_LIMIT"]:
        # a forged Origin gets an answer without a key, so keyless requests share one tighter budget per address
        limiter.limit(
            app.config["KEYLESS_RATE_LIMIT"],
            methods=["POST"],
            scope="keyless",
            exempt_when=lambda: not charged_as_keyless(),
        )(api)
    # failed /admin passwords, per address; a correct one costs nothing
    limiter.limit(ADMIN_FAILURES_LIMIT, deduct_when=lambda response: response.status_code == 401)(admin)
    register_error_handlers(app)
    app.register_api(api)
    app.register_blueprint(pages)
    app.register_blueprint(admin)
    app.after_request(security_headers)
    live.start()
    return app


def default_question_log(index_dir: Path) -> Path:
    """Where an index's questions are recorded by default: beside its directory, named after it
    (``.citewell/index`` → ``.citewell/index.questions.db``), so two indexes in one folder never share a log."""
    index_dir = index_dir.resolve()
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    shared = index_dir.parent / "questions.db"
    if shared.exists():
        logger.warning(
            "%s holds questions recorded before each index had its own log; %s records this index's from now on",
            shared,
            index_dir.parent / f"{index_dir.name}.questions.db",
        )
    return index_dir.parent / f"{index_dir.name}.questions.db"


def _question_log(config: Mapping[str, Any]) -> QuestionLog | None:
    url = str(config["QUESTION_LOG"])
    if url == "off":
        return None
    if not url:
        url = f"sqlite:///{default_question_log(Path(config['INDEX']))}"
    question_log = QuestionLog(
        url,
        retention_days=float(config["QUESTION_LOG_RETENTION_DAYS"]),
        flush_interval=float(config["QUESTION_LOG_FLUSH_SECONDS"]),
        max_questions=int(config["QUESTION_LOG_MAX_QUESTIONS"]),
    )
    question_log.start()
    return question_log
