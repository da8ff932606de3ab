"""Slow clients against the real `citewell serve`: they wait in the event loop, never holding a thread, and are
cut off by the header, body and keep-alive timeouts. Every loop here is bounded in count and time, on loopback."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from service.measurement.benchmarks.slow import SlowClients

from .conftest import ServerProcess

QUESTION = "Who oversees elections?"


@pytest.fixture
def slow_clients(server: ServerProcess) -> Iterator[SlowClients]:
    clients = SlowClients(server.port, 150, seconds=60)
    try:
        time.sleep(1)  # every connection accepted and trickling
        yield clients
    finally:
        clients.close()


def timed(call: Callable[[], requests.Response]) -> tuple[requests.Response | None, float]:
    started = time.monotonic()
    try:
        response = call()
    except requests.RequestException:
        response = None
    return response, time.monotonic() - started


@pytest.mark.slow
def test_150_slow_connections_leave_the_service_answering(
    server: ServerProcess, slow_clients: SlowClients
) -> None:
    """Against the default `citewell serve` (one worker, 16 threads): 16 slow clients used to take every thread,
    and nothing was answered for 60 s. The bound is generous; `citewell bench slow-clients` measures latency."""
    health, health_seconds = timed(lambda: requests.get(server.url + "/api/health", timeout=5))
    assert health is not None and health.status_code == 200
    answer, answer_seconds = timed(lambda: server.ask(QUESTION))
    assert answer is not None and answer.status_code == 200 and answer.json()["answered"]
    assert health_seconds < 5 and answer_seconds < 5


@pytest.fixture(scope="module")
def impatient_server(
    corpus_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("impatient") / "server.log"
    settings = {"HEADER_TIMEOUT": "1", "BODY_TIMEOUT": "1", "KEEPALIVE_TIMEOUT": "1", "RATE_LIMIT": ""}
    with ServerProcess(corpus_index_dir, log, settings) as process:
        yield process


def closed_within(connection: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing the connection, or None when it was still open after ``seconds``."""
    connection.settimeout(seconds)
    received = b""
    try:
        while chunk := connection.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


def test_a_connection_that_sends_nothing_or_trickles_its_headers_is_closed(
    impatient_server: ServerProcess,
) -> None:
    with socket.create_connection(("127.0.0.1", impatient_server.port)) as idle:
        assert closed_within(idle, 4) == b""
    with socket.create_connection(("127.0.0.1", impatient_server.port)) as trickler:
        trickler.sendall(b"GET /api/health HTTP/1.1\r\n")
        started = time.monotonic()
        for _ in range(3):  # a byte now and then does not keep it open
            time.sleep(0.4)
            trickler.sendall(b"X")
        assert closed_within(trickler, 4) == b""
        assert time.monotonic() - started < 4


def test_a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes(
    impatient_server: ServerProcess,
) -> None:
    with socket.create_connection(("127.0.0.1", impatient_server.port)) as trickler:
        trickler.sendall(
            b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        received = closed_within(trickler, 4)
    assert received is not None
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408") and b"connection: close" in head.lower()
    assert json.loads(body)["error"]["code"] == "request_timeout"


def test_an_idle_kept_alive_connection_is_closed_and_a_prompt_one_is_served(
    impatient_server: ServerProcess,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", impatient_server.port, timeout=5)
    for _ in range(2):  # within the keep-alive timeout, the connection serves the next request
        connection.request("GET", "/api/health")
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b'{"status":"ok"}\n'
        time.sleep(0.3)
    assert connection.sock is not None
    assert closed_within(connection.sock, 4) == b""
    connection.close()


def test_oversized_request_lines_headers_and_chunked_bodies_get_json_errors(server: ServerProcess) -> None:
    long_line = requests.get(server.url + "/api/health?" + "a" * 9000, timeout=5)
    assert long_line.status_code == 414 and long_line.json()["error"]["code"] == "uri_too_long"
    long_headers = requests.get(server.url + "/api/health", headers={"X-Big": "b" * 17000}, timeout=5)
    # 431 when the head arrives in one read; h11 refuses it with a 400 if it comes in pieces
    assert long_headers.status_code in (400, 431) and long_headers.json()["error"]["code"] in (
        "bad_request",
        "headers_too_large",
    )

    def chunks(text: str) -> Iterator[bytes]:  # no Content-Length: requests sends it chunked
        yield text.encode()

    too_large = '{"question": "' + "x" * 70_000 + '"}'
    response = requests.post(
        server.url + "/api/ask",
        data=chunks(too_large),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # the app's own answer, with its headers
    fits = json.dumps({"question": QUESTION})
    response = requests.post(
        server.url + "/api/ask", data=chunks(fits), headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 200 and response.json()["answered"]


def test_x_forwarded_for_is_not_trusted_without_proxy_hops(server: ServerProcess) -> None:
    """PROXY_HOPS is 0: a client's own X-Forwarded-For changes nothing, even from loopback (uvicorn would trust
    it from there by default)."""
    requests.get(
        server.url + "/api/health?probe=forwarded", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=5
    )
    for _ in range(50):
        lines = [line for line in server.log().splitlines() if "probe=forwarded" in line]
        if lines:
            break
        time.sleep(0.1)
    assert lines and lines[0].startswith("127.0.0.1 ")
