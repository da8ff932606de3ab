"""How a connection reaches the app: an event loop reads each request whole, then a thread of the app runs it.

A slow client (headers or body trickled a byte at a time, or a connection that sends nothing) costs an open
socket in the event loop, never one of the app's threads. The loop gives each request's headers
``header_timeout`` seconds, its body ``body_timeout`` seconds and ``max_body`` bytes; only a request that has
arrived whole goes to a thread, which answers it from memory.

- ``TimedH11Protocol``: uvicorn's HTTP/1.1 protocol, plus a deadline for each request's headers (uvicorn has
  only a keep-alive timeout, which every byte received resets).
- ``BufferedWSGI``: the ASGI app uvicorn calls; it reads the body within its limits, then runs the WSGI app in a
  pool of threads (a2wsgi) and writes the access-log line.
- ``CitewellWorker``: the gunicorn worker that runs them (uvicorn-worker), so gunicorn's master keeps its
  processes, signals and hooks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, ClassVar

from a2wsgi import WSGIMiddleware
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn_worker import UvicornWorker

from service.errors import error_document

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The longest request line (gunicorn's limit, which citewell had before: 414 above it), and the most bytes of
# headers (431 above it). h11 also refuses a head over MAX_HEAD_BYTES that arrives in pieces, with a 400.
MAX_REQUEST_LINE = 8190
MAX_HEAD_BYTES = 16 * 1024
# A body over the limit is still read (and dropped) up to this much, so that the client, which sends its whole
# body before it reads an answer, gets the 413 instead of a reset connection; past it the connection is closed.
DRAIN_BYTES = 1024 * 1024
# Response chunks a thread may hand to the event loop before it waits for a slow reader: a whole answer fits.
SEND_QUEUE_CHUNKS = 256

access_log = logging.getLogger("citewell.access")


class TimedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request's headers: ``header_timeout`` seconds from
    the connection's opening, or from the first byte of a request that follows another on a kept-alive
    connection; a client that has not sent them whole by then is disconnected."""

    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._awaiting_headers():
            self._disarm_header_deadline()
        elif self._header_deadline is None:  # the first byte of the next request on a kept-alive connection
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """A request line or headers that cannot be parsed, or longer than ``MAX_HEAD_BYTES``: the contract's
        JSON error, not uvicorn's plain text."""
        self.transport.write(
            bad_request_response(
                f"the request line or headers are malformed or longer than {MAX_HEAD_BYTES} bytes"
            )
        )
        self.transport.close()

    def _awaiting_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._awaiting_headers() and not self.transport.is_closing():
            self.transport.close()


def timed_protocol(header_timeout: float) -> type[TimedH11Protocol]:
    """``TimedH11Protocol`` with this deadline (uvicorn builds its protocol from a class)."""
    return type("TimedH11Protocol", (TimedH11Protocol,), {"header_timeout": header_timeout})


class BufferedWSGI:
    """An ASGI app that reads each request's body whole (within ``body_timeout`` seconds and ``max_body``
    bytes) before a thread runs the WSGI ``app`` on it, and logs one line per request with its latency.

    A body too large is not given to the app: the app sees its length and answers 413 itself (Flask's
    ``MAX_CONTENT_LENGTH``), with its own headers; a body too slow gets 408. Either way the connection closes.

    Example:
        >>> from flask import Flask
        >>> asgi_app = BufferedWSGI(Flask(__name__), threads=4, body_timeout=10, max_body=65536)
    """

    def __init__(self, app: Any, *, threads: int, body_timeout: float, max_body: int | None) -> None:
        self.app = app
        self.body_timeout = body_timeout
        self.max_body = max_body
        self._threads = WSGIMiddleware(app, workers=threads, send_queue_size=SEND_QUEUE_CHUNKS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan
            await self._threads(scope, receive, send)  # type: ignore[arg-type]
            return
        started = time.monotonic()
        response = {"status": 0, "bytes": 0}
        # whether the body was read to its end; if not, what is left of it would be read as the next request
        whole = True
        refusal = _oversized_head(scope)

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                if not whole:
                    message["headers"] = [*message["headers"], (b"connection", b"close")]
            elif message["type"] == "http.response.body":
                response["bytes"] += len(message.get("body", b""))
            await send(message)

        if refusal is not None:
            whole = False
            await _send_error(logged_send, *refusal)
            _log_access(scope, response["status"], response["bytes"], time.monotonic() - started)
            return
        try:
            async with asyncio.timeout(self.body_timeout):
                request = await self._read_body(scope, receive)
        except TimeoutError:
            whole = False
            await _send_error(logged_send, 408, "the request body did not arrive in time")
        else:
            if request is None:  # the client went away
                return
            body, length, whole = request
            await self._threads(_with_length(scope, length), _replay(body, receive), logged_send)  # type: ignore[arg-type]
        _log_access(scope, response["status"], response["bytes"], time.monotonic() - started)

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes, int, bool] | None:
        """The body, its length, and whether it was read to its end; None when the client went away.

        A body over ``max_body`` is dropped but read on up to ``DRAIN_BYTES`` (its length is still reported, so
        that the app refuses it); one that declares more than that is not read at all."""
        limit = self.max_body
        declared = _declared_length(scope)
        if limit is not None and declared is not None and declared > max(limit, DRAIN_BYTES):
            return b"", declared, False
        chunks: list[bytes] = []
        received = 0
        more = True
        while more and received <= DRAIN_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if limit is None or received <= limit:
                chunks.append(chunk)
            more = bool(message.get("more_body", False))
        length = max(received, declared or 0)
        if limit is not None and length > limit:
            return b"", length, not more
        return b"".join(chunks), received, not more


def _oversized_head(scope: Scope) -> tuple[int, str] | None:
    """414 or 431 with its message for a request line or headers over the limits, else None."""
    target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    if len(scope["method"]) + target + len(" ? HTTP/1.1") > MAX_REQUEST_LINE:
        return 414, f"the request line is longer than {MAX_REQUEST_LINE} bytes"
    if sum(len(name) + len(value) + 4 for name, value in scope["headers"]) > MAX_HEAD_BYTES:
        return 431, f"the request headers are longer than {MAX_HEAD_BYTES} bytes"
    return None


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value)  # h11 has checked it is a number
    return None


def _with_length(scope: Scope, length: int) -> Scope:
    """The request as the app sees it: a body of ``length`` bytes, whatever its framing (chunked or not)."""
    headers = [
        (name, value)
        for name, value in scope["headers"]
        if name not in (b"content-length", b"transfer-encoding")
    ]
    if length or _declared_length(scope) is not None:
        headers.append((b"content-length", str(length).encode()))
    return {**scope, "headers": headers}


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the buffered body in one message, then whatever the connection says next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def error_body(status: int, message: str) -> bytes:
    return json.dumps(error_document(status, message)).encode()


def bad_request_response(message: str) -> bytes:
    """A whole HTTP/1.1 400 response with the contract's JSON error, for the protocol to write itself."""
    body = error_body(400, message)
    head = (
        f"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


async def _send_error(send: Send, status: int, message: str) -> None:
    body = error_body(status, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _log_access(scope: Scope, status: int, sent: int, seconds: float) -> None:
    """gunicorn's access-log line as citewell wrote it before: client, request line, status, bytes, latency."""
    client = scope.get("client")
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    request_line = f"{scope['method']} {target.decode('latin-1')} HTTP/{scope['http_version']}"
    access_log.info(
        '%s "%s" %s %sB %sms', client[0] if client else "-", request_line, status, sent, int(seconds * 1000)
    )


class CitewellWorker(UvicornWorker):  # type: ignore[misc] # gunicorn is untyped
    """A gunicorn worker serving ``BufferedWSGI`` with uvicorn's event loop and ``TimedH11Protocol``.

    Its application (``service.server.CitewellServer``) gives the header deadline and the keep-alive timeout
    (``header_timeout``, ``keepalive_timeout``); gunicorn's graceful timeout bounds the drain at SIGTERM."""

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        "loop": "asyncio",
        "http": TimedH11Protocol,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        # X-Forwarded-For is the app's (PROXY_HOPS): uvicorn would otherwise trust it from any local address
        "proxy_headers": False,
        "access_log": False,  # BufferedWSGI writes the line, with the latency
        "server_header": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.http = timed_protocol(float(self.app.header_timeout))
        self.config.timeout_keep_alive = self.app.keepalive_timeout
        self.config.timeout_graceful_shutdown = self.cfg.graceful_timeout
        access_log.handlers = self.log.access_log.handlers
        access_log.setLevel(logging.INFO)
        access_log.propagate = False

    def init_signals(self) -> None:
        super().init_signals()
        # Once it has shut down, uvicorn raises the signal that stopped it again; with the default action that
        # would end the process before gunicorn runs its worker_exit hook (the question log's last records).
        for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(stop, _exit_quietly)


def _exit_quietly(signum: int, frame: object) -> None:
    sys.exit(0)
