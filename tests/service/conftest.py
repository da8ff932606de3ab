"""The real service as a subprocess (`citewell serve` under gunicorn) on a free port, and ways to talk to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import redis
import requests
from flask.testing import FlaskClient

from ingest import Embedder

CITEWELL = Path(sys.executable).parent / "citewell"
ADMIN_TOKEN = "test-admin-token-of-24-chars+"
REDIS_SERVER = Path("/usr/bin/redis-server")


def ready_client(index_dir: Path, embedder: Embedder, **settings: object) -> FlaskClient:
    """The app in this process (Flask's test client, the session's model), once its index has loaded: for what
    needs no real server (validation, pages, limits)."""
    from service import create_app

    app = create_app({"INDEX": str(index_dir), "QUESTION_LOG": "off", **settings}, embedder=embedder)
    client = app.test_client()
    for _ in range(400):
        if client.get("/api/ready").status_code == 200:
            return client
        time.sleep(0.05)
    raise AssertionError("the index did not load")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """``citewell serve`` with ``settings`` as CITEWELL_* variables; its log is kept in ``log_path``."""

    def __init__(
        self, index_dir: Path, log_path: Path, settings: Mapping[str, str] | None = None, *, workers: int = 1
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.index_dir = index_dir
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "CITEWELL_RELOAD_INTERVAL": "0.5"}
        env.update({f"CITEWELL_{name}": value for name, value in (settings or {}).items()})
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(CITEWELL),
                "serve",
                "--index",
                str(index_dir),
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until(self, path: str, status: int = 200, timeout: float = 120) -> requests.Response:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                response = requests.get(self.url + path, timeout=5)
                if response.status_code == status:
                    return response
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or a worker still loading the index
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} never answered {status}:\n{self.log()}")
            time.sleep(0.2)

    def ask(self, question: str, **fields: object) -> requests.Response:
        headers = fields.pop("headers", None)
        return requests.post(
            self.url + "/api/ask",
            json={"question": question, **fields},
            headers=headers if isinstance(headers, dict) else None,
            timeout=30,
        )

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._log.close()
        return code


@pytest.fixture(scope="session")
def server(corpus_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The open service over the shipped corpus, limits high enough that tests never meet them."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    process = ServerProcess(
        corpus_index_dir, log, {"RATE_LIMIT": "100000/minute", "ADMIN_TOKEN": ADMIN_TOKEN}
    )
    try:
        process.wait_until("/api/ready")
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's redis-server (installed by `make test`) on a free loopback port, stopped after."""
    if not REDIS_SERVER.exists():
        pytest.fail("redis-server is missing: `make test` installs it")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            str(REDIS_SERVER),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if redis.Redis.from_url(url).ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)
