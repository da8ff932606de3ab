"""``citewell bench slow-clients``: what slow connections cost a normal client. One keep-alive client asks
questions against `citewell serve` as `make run` starts it (default workers and threads, no proxy), alone and
with N slow connections held open, in alternating rounds so that other load on the machine falls on both alike.
Of the slow connections a third trickle their headers a byte at a time, a third their bodies, a third send
nothing; those the server cuts off (its timeouts) are opened again, so N stay open throughout a round."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from service.measurement.benchmarks.harness import BARE_SETTINGS, Server, percentile_ms

HEADERS_START = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
BODY_START = (
    b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 1000\r\n\r\n{"question": "'
)


class SlowClients:
    """``count`` slow connections to ``port``, kept at that number until ``close()``: a third trickle their
    headers, a third their body (after whole headers), a byte every ``interval`` seconds; a third send nothing.
    ``reopened`` counts the connections the server closed and that were opened again."""

    def __init__(self, port: int, count: int, *, interval: float = 0.5, seconds: float = 600) -> None:
        self.port = port
        self.reopened = 0
        self._connections = [self._open(number) for number in range(count)]
        self._interval = interval
        self._deadline = time.monotonic() + seconds  # bounded even if close() is never called
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _open(self, number: int) -> socket.socket:
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        connection.setblocking(False)
        with contextlib.suppress(OSError):
            if number % 3 == 0:
                connection.send(HEADERS_START)
            elif number % 3 == 1:
                connection.send(BODY_START)
        return connection

    def _trickle(self) -> None:
        while not self._stop.wait(self._interval) and time.monotonic() < self._deadline:
            for number, connection in enumerate(self._connections):
                if self._closed_by_server(connection):
                    connection.close()
                    self._connections[number] = self._open(number)
                    self.reopened += 1
                elif number % 3 != 2:
                    with contextlib.suppress(OSError):
                        connection.send(b"a")

    @staticmethod
    def _closed_by_server(connection: socket.socket) -> bool:
        try:
            connection.recv(4096)  # an answer (408) or the end of the connection: either way it is done
        except BlockingIOError:
            return False  # open, nothing to read
        except OSError:
            pass  # reset
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self._connections:
            connection.close()


def normal_client(url: str, questions: Sequence[str], requests_count: int) -> list[float | None]:
    """One keep-alive client asking ``requests_count`` questions in turn: each one's seconds, None if it failed."""
    latencies: list[float | None] = []
    with requests.Session() as session:
        for number in range(requests_count):
            started = time.perf_counter()
            try:
                response = session.post(
                    url + "/api/ask", json={"question": questions[number % len(questions)]}, timeout=30
                )
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            latencies.append(time.perf_counter() - started if ok else None)
    return latencies


def summary(latencies: Sequence[float | None]) -> dict[str, float]:
    answered = [seconds for seconds in latencies if seconds is not None]
    return {
        "requests": len(latencies),
        "failures": len(latencies) - len(answered),
        "p50_ms": percentile_ms(answered, 50),
        "p99_ms": percentile_ms(answered, 99),
        "max_ms": percentile_ms(answered, 100),
    }


def bench_slow_clients(
    index_dir: Path, questions: Sequence[str], *, slow: int = 200, requests_count: int = 300, rounds: int = 5
) -> dict[str, Any]:
    """``rounds`` times: ``requests_count / rounds`` requests alone, then as many with ``slow`` connections."""
    alone: list[float | None] = []
    beside_slow: list[float | None] = []
    reopened = 0
    per_round = max(1, requests_count // rounds)
    server = Server(index_dir, settings=BARE_SETTINGS)
    try:
        server.wait_ready()
        normal_client(server.url, questions, 20)  # warm up every path once
        for _ in range(rounds):
            alone += normal_client(server.url, questions, per_round)
            clients = SlowClients(server.port, slow)
            try:
                time.sleep(1)  # every slow connection accepted and trickling
                beside_slow += normal_client(server.url, questions, per_round)
            finally:
                clients.close()
            reopened += clients.reopened
    finally:
        server.stop()
    unloaded, loaded = summary(alone), summary(beside_slow)
    return {
        "slow_connections": slow,
        "rounds": rounds,
        "unloaded": unloaded,
        "with_slow": loaded,
        "slow_reopened": reopened,
        "p50_ratio": loaded["p50_ms"] / unloaded["p50_ms"],
        "p99_ratio": loaded["p99_ms"] / unloaded["p99_ms"],
    }


def format_slow_clients(result: dict[str, Any]) -> str:
    rows = [("alone", result["unloaded"]), (f"{result['slow_connections']} slow open", result["with_slow"])]
    lines = [f"{'normal client':<22} {'requests':>8} {'failed':>6} {'p50':>9} {'p99':>9} {'max':>9}"]
    for name, row in rows:
        lines.append(
            f"{name:<22} {row['requests']:>8} {row['failures']:>6} {row['p50_ms']:>7.1f}ms {row['p99_ms']:>7.1f}ms "
            f"{row['max_ms']:>7.1f}ms"
        )
    lines.append(
        f"p50 ratio {result['p50_ratio']:.2f}, p99 ratio {result['p99_ratio']:.2f} (with slow connections / alone, "
        f"{result['rounds']} alternating rounds); {result['slow_reopened']} slow connections cut off by the "
        "server's timeouts and opened again"
    )
    return "\n".join(lines)
