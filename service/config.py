"""The service's settings: defaults → a TOML file → ``CITEWELL_*`` environment → overrides, read once.

Every setting, with its default, is listed in ``DEFAULTS`` and in the README's Configuration table.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config

from ingest import DEFAULT_MODEL, PRECISIONS
from service.errors import ConfigError

# `citewell serve`'s threads per worker process. Requests waiting for the model go into its next call together (see
# ``service.batching``), so more threads mean bigger batches under load: 16 clients got 117 requests/s from
# one worker with 16 threads against 83 with 4 (README, Benchmarks).
SERVE_THREADS = 16

DEFAULTS: dict[str, Any] = {
    # where `citewell serve` listens, with how many worker processes and threads per worker
    "HOST": "127.0.0.1",
    "PORT": 8000,
    "WORKERS": 1,
    "THREADS": SERVE_THREADS,
    # seconds `citewell serve` gives a client: to send a request's headers (from connecting, or from the first byte
    # of a request on a kept-alive connection), to send its body once the headers are in, and to send another
    # request on a kept-alive connection. Slow clients wait in an event loop, never holding a thread, and are cut
    # off past these.
    "HEADER_TIMEOUT": 10.0,
    "BODY_TIMEOUT": 10.0,
    "KEEPALIVE_TIMEOUT": 5.0,
    # where the index lives (built by `citewell ingest`) and the model that reads questions
    "INDEX": ".citewell/index",
    "MODEL": DEFAULT_MODEL,
    # the precision questions are encoded at: "int8" is about 2.5x faster than "float32" on a CPU, with SciFact nDCG
    # unchanged but answer scores slightly lower (README, Evaluation); passages are always encoded at full precision
    "QUERY_PRECISION": "float32",
    # refuse below this answer score; None keeps the calibrated default of the answering engine
    "MIN_SCORE": None,
    # where `citewell eval` keeps the indexes it builds of benchmark collections; "" is ~/.cache/citewell/eval
    "EVAL_CACHE": "",
    # largest request body, in bytes (Flask's own setting; a bigger body gets 413)
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # CORS for /api/*: "*" or a list of origins such as ["https://elections.example.gov"]
    "CORS_ORIGINS": "*",
    # when not empty, POST /api/ask needs one of these keys (Authorization: Bearer KEY or X-API-Key: KEY) ...
    "API_KEYS": [],
    # ... except from these web origins (the sites that embed the widget) and from the service's own pages
    "KEYLESS_ORIGINS": [],
    # per-client limit on POST /api/ask (Flask-Limiter syntax; "" turns it off) and where counts are kept
    "RATE_LIMIT": "60/minute;1000/hour",
    # with API_KEYS: the limit, per address, on requests without a valid key, whether a keyless origin lets them
    # in or they are refused (an Origin header can be forged by any program, so this is what bounds keyless use,
    # and it bounds guessing keys)
    "KEYLESS_RATE_LIMIT": "20/minute;300/hour",
    # citewell's public address, e.g. "https://ask.example.org": the embed snippet on / and the origin of its own
    # pages come from here, never from request headers; "" uses the address each request was sent to
    "PUBLIC_URL": "",
    "RATE_LIMIT_STORAGE_URI": "memory://",
    # how many reverse proxies in front of the service set X-Forwarded-For (clients are told apart by address)
    "PROXY_HOPS": 0,
    # which sites may show citewell's pages in a frame (CSP frame-ancestors), e.g. "'self' https://a.example"
    "FRAME_ANCESTORS": "'self'",
    # where questions, outcomes and feedback are recorded (a SQLAlchemy URL); "" means INDEX.questions.db beside
    # the index directory (.citewell/index.questions.db), "off" records nothing
    "QUESTION_LOG": "",
    "QUESTION_LOG_RETENTION_DAYS": 90,
    # the most questions kept (about 4 KB each); past it the oldest go, with their feedback
    "QUESTION_LOG_MAX_QUESTIONS": 1_000_000,
    # the log's writer gathers records for a quarter of this (seconds) and writes them as one batch
    "QUESTION_LOG_FLUSH_SECONDS": 1.0,
    # the password of /admin (HTTP Basic, any user name), at least 24 characters; "" turns the page off
    "ADMIN_TOKEN": "",
    # example questions for the demo page when the documents carry none (a Markdown front matter's `examples:`)
    "EXAMPLE_QUESTIONS": [],
    # answers kept for repeated questions (the widget's example questions): per process, or per index version in
    # Redis; 0 turns the cache off
    "ANSWER_CACHE_SIZE": 1024,
    # where cached answers live: "" in each process, "redis://host:6379/1" shared by every worker and replica
    "ANSWER_CACHE_URI": "",
    # how long a cached answer is kept (a new index is never answered from an old one's cache, whatever this is)
    "ANSWER_CACHE_SECONDS": 3600,
    # torch threads per `citewell serve` worker; one model call runs at a time in each (see README Benchmarks)
    "TORCH_THREADS": 1,
    # how often (seconds) to look for a newly built index; 0 turns automatic reloading off
    "RELOAD_INTERVAL": 2.0,
}

CONFIG_FILE_VARIABLE = "CITEWELL_CONFIG"
MIN_ADMIN_TOKEN_CHARS = 24
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def load_config(config: Config, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill ``config`` in layers; later layers win. Environment values are parsed as JSON when they parse."""
    config.from_mapping(DEFAULTS)
    config_file = os.environ.get(CONFIG_FILE_VARIABLE)
    if config_file:
        try:
            with Path(config_file).open("rb") as handle:
                config.from_mapping({key.upper(): value for key, value in tomllib.load(handle).items()})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"cannot read the settings file {config_file} (${CONFIG_FILE_VARIABLE}): {exc}"
            ) from exc
    config.from_prefixed_env("CITEWELL")
    if overrides:
        config.from_mapping(overrides)
    config["CORS_ORIGINS"] = _origins(config["CORS_ORIGINS"])
    config["KEYLESS_ORIGINS"] = _origins(config["KEYLESS_ORIGINS"])
    config["API_KEYS"] = _strings(config["API_KEYS"])
    config["EXAMPLE_QUESTIONS"] = _strings(config["EXAMPLE_QUESTIONS"])
    if config["ADMIN_TOKEN"] and len(str(config["ADMIN_TOKEN"])) < MIN_ADMIN_TOKEN_CHARS:
        raise ConfigError(
            f"ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_CHARS} characters; make one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if config["ANSWER_CACHE_URI"] and not str(config["ANSWER_CACHE_URI"]).startswith(REDIS_SCHEMES):
        raise ConfigError(
            f"ANSWER_CACHE_URI must be empty (each process keeps its own answers) or a Redis URL "
            f"({', '.join(REDIS_SCHEMES)}...), not {str(config['ANSWER_CACHE_URI']).split('://')[0]!r}"
        )
    if config["QUERY_PRECISION"] not in PRECISIONS:
        raise ConfigError(
            f"QUERY_PRECISION must be one of {', '.join(PRECISIONS)}, not {config['QUERY_PRECISION']!r}"
        )


def _origins(value: Any) -> str | list[str]:
    if value == "*" or value == ["*"]:
        return "*"
    return [origin.rstrip("/") for origin in _strings(value)]


def _strings(value: Any) -> list[str]:
    """A list from a list or a comma-separated string (the handy form for environment variables)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]
