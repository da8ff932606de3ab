"""Replicas that share state through real servers: Debian's PostgreSQL (the question log) and redis-server (rate
limits, answers) started by fixtures on free loopback ports, as an unprivileged user, and stopped after. Two
`citewell serve` processes over one index directory share them; `bench soak --replicas 2` swaps the index under
two replicas (tests/benchmarks)."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from ingest import Embedder, build_index, load_documents
from ingest.index import current_version
from service.insight import AskRecord, QuestionLog
from service.measurement.benchmarks.harness import child_pids

from ..conftest import CORPUS, REPO
from .conftest import ADMIN_TOKEN, ServerProcess, free_port, ready_client

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


def test_replicas_starting_together_on_an_empty_database_create_its_tables_once(postgres_url: str) -> None:
    """PostgreSQL refuses all but the first of concurrent CREATE TABLEs of one name; the others find the tables."""
    server = postgres_url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute("CREATE DATABASE started_together")
    logs = [QuestionLog(f"{postgres_url.rsplit('/', 1)[0]}/started_together") for _ in range(4)]
    failures: list[Exception] = []

    def first_use(log: QuestionLog) -> None:
        try:
            log.engine.dispose()
        except Exception as exc:
            failures.append(exc)

    starting = [threading.Thread(target=first_use, args=(log,)) for log in logs]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    assert failures == []


# --- two real replicas -------------------------------------------------------------------------------------------

RATE_LIMIT = 4  # a minute, per client
ANSWERED_BY_DATE = "When was election infrastructure designated critical infrastructure?"
_ADDRESSES = itertools.count(1)


@dataclass
class Replicas:
    first: ServerProcess
    second: ServerProcess
    documents: Path  # what the index is built from (a copy of the corpus, for a test to change)
    index_dir: Path

    @property
    def both(self) -> tuple[ServerProcess, ServerProcess]:
        return self.first, self.second


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, redis_url: str, postgres_url: str
) -> Iterator[Replicas]:
    """Two `citewell serve` on one index directory, sharing redis-server (limits, answers) and PostgreSQL (the
    question log); clients are told apart by X-Forwarded-For, so each test brings its own addresses."""
    folder = tmp_path_factory.mktemp("replicas")
    documents, index_dir = folder / "documents", folder / "index"
    shutil.copytree(CORPUS, documents)
    build_index(load_documents([documents]).documents, index_dir, embedder=embedder)
    settings = {
        "RATE_LIMIT": f"{RATE_LIMIT}/minute",
        "RATE_LIMIT_STORAGE_URI": redis_url,
        "ANSWER_CACHE_URI": redis_url,
        "QUESTION_LOG": postgres_url,
        "QUESTION_LOG_FLUSH_SECONDS": "0.2",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "PROXY_HOPS": "1",
    }
    first, second = (ServerProcess(index_dir, folder / f"{name}.log", settings) for name in ("a", "b"))
    try:
        for replica in (first, second):
            replica.wait_until("/api/ready")
        yield Replicas(first, second, documents, index_dir)
    finally:
        for replica in (first, second):
            replica.stop()


def ask(replica: ServerProcess, question: str, address: str | None = None) -> requests.Response:
    """``question`` asked of ``replica`` by a client at ``address`` (a new one unless given)."""
    n = next(_ADDRESSES)
    address = address or f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    return replica.ask(question, headers={"X-Forwarded-For": address})


def cache_counts(replica: ServerProcess) -> dict[str, Any]:
    counts: dict[str, Any] = replica.wait_until("/api/ready").json()["answer_cache"]
    return counts


def test_a_limit_holds_across_both_replicas(replicas: Replicas) -> None:
    """One client's requests alternate between the replicas: exactly the limit of them succeed."""
    statuses = [
        ask(replica, "Who oversees elections?", "203.0.113.9").status_code for replica in replicas.both * 3
    ]
    assert statuses == [200] * RATE_LIMIT + [429] * (6 - RATE_LIMIT)


def test_questions_asked_of_both_replicas_appear_in_one_admin(replicas: Replicas) -> None:
    asked = {
        "Who oversees elections in the county of the first replica?": replicas.first,
        "Who oversees elections in the county of the second replica?": replicas.second,
    }
    for question, replica in asked.items():
        assert ask(replica, question).status_code == 200
    for admin in replicas.both:
        page = ""
        for _ in range(100):  # each replica's writer stores its records within a fraction of a second
            page = requests.get(admin.url + "/admin?days=1", auth=("owner", ADMIN_TOKEN), timeout=10).text
            if all(f"<td>{question}</td>" in page for question in asked):
                break
            time.sleep(0.1)
        assert all(f"<td>{question}</td>" in page for question in asked)


def test_replicas_share_cached_answers_and_a_new_index_is_never_answered_from_the_old(
    replicas: Replicas,
) -> None:
    first, second = replicas.both
    before = cache_counts(first), cache_counts(second)
    given = ask(first, ANSWERED_BY_DATE).json()
    assert "January 6, 2017" in given["answer"]
    cached = ask(second, ANSWERED_BY_DATE).json()
    after = cache_counts(first), cache_counts(second)
    assert after[0]["misses"] == before[0]["misses"] + 1 and after[0]["hits"] == before[0]["hits"]
    assert after[1]["hits"] == before[1]["hits"] + 1 and after[1]["misses"] == before[1]["misses"]
    assert {**cached, "id": None} == {**given, "id": None} and cached["id"] != given["id"]

    # the document changes and `citewell ingest` builds a new version into the same directory
    document = replicas.documents / "securing-elections.md"
    document.write_text(
        document.read_text(encoding="utf-8").replace("January 6, 2017", "January 9, 2017"), encoding="utf-8"
    )
    old_version = current_version(replicas.index_dir)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "ingest",
            str(replicas.documents),
            "--index",
            str(replicas.index_dir),
        ],
        cwd=REPO,  # this checkout's code, as the replicas run it
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=True,
        capture_output=True,
        timeout=300,
    )
    new_version = current_version(replicas.index_dir)
    assert new_version is not None and new_version != old_version
    for replica in replicas.both:
        for _ in range(300):
            if replica.wait_until("/api/ready").json()["version"] == new_version.name:
                break
            time.sleep(0.1)
    counts = cache_counts(second)
    renewed = ask(second, ANSWERED_BY_DATE).json()
    assert "January 9, 2017" in renewed["answer"] and "January 6" not in renewed["answer"]
    assert cache_counts(second)["misses"] == counts["misses"] + 1  # not the old version's entry
    counts = cache_counts(first)
    assert ask(first, ANSWERED_BY_DATE).json()["answer"] == renewed["answer"]
    assert cache_counts(first)["hits"] == counts["hits"] + 1  # the new version's entry, shared


def test_a_replica_killed_mid_run_loses_no_acknowledged_question(
    replicas: Replicas, postgres_url: str
) -> None:
    """An answer's question-log row is *acknowledged* once the transaction that writes its batch has committed:
    then, and not before, another database session sees it. The HTTP answer is no acknowledgement: a background
    writer stores it up to a quarter of QUESTION_LOG_FLUSH_SECONDS later, so the rows a killed replica still held
    are lost, and only those. Questions go to the first replica without pause; after some are acknowledged,
    its worker and master get SIGKILL (no shutdown, nothing flushed) while questions are still arriving; every
    acknowledged row must still be there, and the other replica goes on logging."""
    victim, survivor = replicas.both
    database = postgres_url.replace("postgresql+psycopg://", "postgresql://")

    def committed(ids: list[str]) -> set[str]:
        with psycopg.connect(database) as connection:
            try:
                rows = connection.execute("SELECT id FROM questions WHERE id = ANY(%s)", (ids,)).fetchall()
            except psycopg.errors.UndefinedTable:
                return set()  # run alone, the first batch has not been written yet: nothing is committed
        return {row[0] for row in rows}

    answered: list[str] = []

    def ask_until_killed() -> None:
        for n in itertools.count():
            try:
                response = ask(victim, f"Who oversees elections in district {n}?")
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                return  # killed before the request, or in the middle of sending its answer
            if response.status_code == 200:
                answered.append(response.json()["id"])

    asker = threading.Thread(target=ask_until_killed)
    asker.start()
    acknowledged: set[str] = set()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 10 and time.monotonic() < deadline:
        acknowledged = committed(list(answered))
        time.sleep(0.1)
    given_at_check = len(answered)
    while len(answered) < given_at_check + 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # answers given after the check: their rows may be in the writer's hands
    for pid in child_pids(victim.process.pid):
        os.kill(pid, signal.SIGKILL)
    victim.process.kill()
    asker.join(30)
    assert len(acknowledged) >= 10 and len(answered) > given_at_check and not asker.is_alive()

    kept = committed(list(answered))
    assert acknowledged <= kept
    print(f"{len(answered)} answered, {len(acknowledged)} acknowledged before the kill, {len(kept)} kept")

    survivor_id = ask(survivor, "Who oversees elections after the crash?").json()["id"]
    for _ in range(100):
        if committed([survivor_id]):
            break
        time.sleep(0.1)
    assert committed([survivor_id])
