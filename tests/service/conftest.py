"""The real service as a subprocess (`citewell serve` under gunicorn) on a free port, and ways to talk to it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from ingest import Embedder
from service.measurement.benchmarks.harness import Server, free_port

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


class ServerProcess(Server):
    """The harness's real server (``service.measurement.benchmarks.harness.Server``), looking for a new index every
    half second so that tests of a swap do not wait."""

    def __init__(
        self, index_dir: Path, log_path: Path, settings: Mapping[str, str] | None = None, *, workers: int = 1
    ) -> None:
        super().__init__(index_dir, log_path, {"RELOAD_INTERVAL": "0.5", **(settings or {})}, workers=workers)


@pytest.fixture(scope="session")
def server(corpus_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The open service over the shipped corpus, limits high enough that tests never meet them."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with ServerProcess(
        corpus_index_dir, log, {"RATE_LIMIT": "100000/minute", "ADMIN_TOKEN": ADMIN_TOKEN}
    ) as process:
        yield process


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
                with redis.Redis.from_url(url) as client:
                    if client.ping():
                        break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)
