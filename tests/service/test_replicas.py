"""Replicas that share state through real servers: Debian's PostgreSQL (the question log) started by a fixture on a
free loopback port, as an unprivileged user, and stopped after."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ingest import Embedder
from service.insight import AskRecord, QuestionLog

from .conftest import ADMIN_TOKEN, free_port, ready_client

POSTGRES_BIN = next(
    iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/lib/postgresql/15/bin")
)


def as_postgres_user() -> dict[str, object]:
    """PostgreSQL refuses to run as root: drop to ``nobody`` when the tests run as root."""
    return {"user": "nobody", "group": "nogroup"} if os.getuid() == 0 else {}


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not (POSTGRES_BIN / "pg_ctl").exists():
        pytest.fail("PostgreSQL is missing: `make test` installs it")
    # not under pytest's temporary folder: that one is private to root, and the server runs as nobody
    folder = Path(tempfile.mkdtemp(prefix="citewell-postgres-"))
    data = folder / "data"
    data.mkdir()
    if os.getuid() == 0:
        shutil.chown(folder, "nobody", "nogroup")
        shutil.chown(data, "nobody", "nogroup")
    subprocess.run(
        [str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "citewell", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        **as_postgres_user(),  # type: ignore[arg-type]
    )
    port = free_port()
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            str(POSTGRES_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(data / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
        **as_postgres_user(),  # type: ignore[arg-type]
    )
    try:
        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=citewell dbname=postgres", autocommit=True
        ) as db:
            db.execute("CREATE DATABASE citewell")
        yield f"postgresql+psycopg://citewell@127.0.0.1:{port}/citewell"
    finally:
        subprocess.run(
            [str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            **as_postgres_user(),  # type: ignore[arg-type]
        )
        shutil.rmtree(folder, ignore_errors=True)


def test_questions_asked_of_two_replicas_appear_in_one_admin(
    postgres_url: str, corpus_index_dir: Path, embedder: Embedder
) -> None:
    settings = {"QUESTION_LOG": postgres_url, "ADMIN_TOKEN": ADMIN_TOKEN, "QUESTION_LOG_FLUSH_SECONDS": 0.2}
    first = ready_client(corpus_index_dir, embedder, **settings)
    second = ready_client(corpus_index_dir, embedder, **settings)
    asked = {"Who oversees elections in county one?": first, "What did DHS do in January 2017?": second}
    for question, replica in asked.items():
        assert replica.post("/api/ask", json={"question": question}).status_code == 200
    page = ""
    for _ in range(100):  # each replica's writer stores its records within a fraction of a second
        page = first.get("/admin?days=1", auth=("owner", ADMIN_TOKEN)).text
        if all(f"<td>{question}</td>" in page for question in asked):
            break
        time.sleep(0.1)
    assert all(f"<td>{question}</td>" in page for question in asked)


def test_the_question_log_works_on_postgresql(postgres_url: str) -> None:
    """Everything /admin reads (insight, questions, answer states, the cap) runs on PostgreSQL, not only SQLite."""
    log = QuestionLog(postgres_url, max_questions=1000)
    log.start()
    log.record(AskRecord("ab" * 16, datetime.now(UTC), "Who counts the votes?", False, 0.3, 120.0, "", []))
    assert log.flush()
    assert log.answer_state("ab" * 16) == "open"
    insight = log.insight(7)
    assert insight.total >= 1 and insight.unanswered and insight.latency_ms["p50"] > 0
    assert [row["question"] for row in log.questions(1, outcome="refused")][:1] == ["Who counts the votes?"]
