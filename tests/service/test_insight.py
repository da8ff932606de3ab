"""The question log: records off the request path, what /admin is built from, retention, and no client identity."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from ingest import Embedder
from service.insight import AskRecord, FeedbackRecord, QuestionLog, normalize_question

from .conftest import ADMIN_TOKEN, ServerProcess, ready_client


def asked(
    answer_id: str, question: str, answered: bool, latency: float, when: datetime | None = None
) -> AskRecord:
    return AskRecord(answer_id, when or datetime.now(UTC), question, answered, 0.5, latency, "an answer", [])


@pytest.fixture
def question_log(tmp_path: Path) -> QuestionLog:
    log = QuestionLog(f"sqlite:///{tmp_path / 'questions.db'}", retention_days=90)
    log.start()
    return log


def test_insight_counts_groups_and_percentiles(question_log: QuestionLog) -> None:
    question_log.record(asked("a" * 32, "Who oversees elections?", True, 100))
    question_log.record(asked("b" * 32, "who oversees  elections", True, 200))
    question_log.record(asked("c" * 32, "What is the boiling point of water?", False, 300))
    question_log.record(asked("d" * 32, "What is the boiling point of water", False, 400))
    question_log.record(FeedbackRecord("c" * 32, datetime.now(UTC), False, "not about elections"))
    question_log.record(FeedbackRecord("a" * 32, datetime.now(UTC), True, None))
    assert question_log.flush()
    insight = question_log.insight(30)
    assert (insight.total, insight.answered, insight.thumbs_up, insight.thumbs_down_total) == (4, 2, 1, 1)
    assert len(insight.per_day) == 30
    assert insight.per_day[-1] == (str(datetime.now(UTC).date()), 2, 2)
    assert all(answered == refused == 0 for _, answered, refused in insight.per_day[:-1])
    assert insight.most_asked[:2] == [
        ("what is the boiling point of water", 2, 2),
        ("who oversees elections", 2, 0),
    ]
    assert [(q, n) for q, n, _ in insight.unanswered] == [("what is the boiling point of water", 2)]
    [down] = insight.thumbs_down
    assert down["question"] == "What is the boiling point of water?"
    assert down["comment"] == "not about elections"
    assert insight.latency_ms["p50"] == pytest.approx(250)
    assert 385 < insight.latency_ms["p99"] <= 400


def test_thumbs_down_are_counted_past_the_table_of_the_newest(question_log: QuestionLog) -> None:
    for n in range(25):
        question_log.record(asked(f"{n:032x}", f"question {n}", True, 1))
        question_log.record(FeedbackRecord(f"{n:032x}", datetime.now(UTC), False, None))
    assert question_log.flush()
    insight = question_log.insight(30, top=20)
    assert (len(insight.thumbs_down), insight.thumbs_down_total) == (20, 25)


def test_old_records_are_deleted_after_the_retention(question_log: QuestionLog) -> None:
    old = datetime.now(UTC) - timedelta(days=120)
    question_log.record(asked("e" * 32, "an old question", True, 10, when=old))
    question_log.record(asked("f" * 32, "a new question", True, 10))
    assert question_log.flush()
    assert question_log.insight(365).total == 1


def test_recording_never_waits_for_the_database(tmp_path: Path) -> None:
    unstarted = QuestionLog(f"sqlite:///{tmp_path / 'q.db'}", capacity=2)  # no writer: the queue fills up
    for n in range(5):
        unstarted.record(asked(f"{n:032x}", "q", True, 1))  # returns at once; the overflow is dropped
    unstarted.start()
    assert unstarted.flush()
    assert unstarted.insight(30).total == 2


def test_a_locked_database_delays_records_but_loses_none(tmp_path: Path) -> None:
    """A lock held past SQLite's own 5 s wait: the batch is tried again after a pause, not dropped."""
    path = tmp_path / "questions.db"
    log = QuestionLog(f"sqlite:///{path}", flush_interval=0.2)
    log.start()
    log.record(asked("0" * 32, "first", True, 1))
    assert log.flush()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    for n in range(1, 21):
        log.record(asked(f"{n:032x}", f"question {n}", True, 1))
    time.sleep(6.5)
    holder.execute("ROLLBACK")
    holder.close()
    assert log.flush(timeout=30)
    assert log.insight(1).total == 21 and log.insight(1).dropped == 0


def test_records_that_could_not_be_written_are_counted_for_admin(tmp_path: Path) -> None:
    log = QuestionLog(f"sqlite:///{tmp_path / 'q.db'}", capacity=2)
    for n in range(5):  # no writer yet: two are queued, three dropped
        log.record(asked(f"{n:032x}", "q", True, 1))
    log.start()
    assert log.flush()
    insight = log.insight(1)
    assert (insight.total, insight.dropped) == (2, 3)


def test_the_log_keeps_at_most_max_questions(tmp_path: Path) -> None:
    log = QuestionLog(f"sqlite:///{tmp_path / 'q.db'}", max_questions=3)
    start = datetime.now(UTC) - timedelta(minutes=10)
    for n in range(5):
        log.record(asked(f"{n:032x}", f"question {n}", True, 1, when=start + timedelta(minutes=n)))
    log.record(FeedbackRecord(f"{0:032x}", datetime.now(UTC), True, None))  # on a question that will go
    log.start()
    assert log.flush()
    kept = log.questions(1)
    assert [row["question"] for row in kept] == ["question 4", "question 3", "question 2"]
    assert log.insight(1).thumbs_up == 0


def test_a_backup_taken_while_the_log_is_written_holds_every_committed_question(tmp_path: Path) -> None:
    """The README's backup command (SQLite's online backup) on a log that a writer keeps writing to."""
    log = QuestionLog(f"sqlite:///{tmp_path / 'questions.db'}")
    log.start()
    for n in range(50):
        log.record(asked(f"{n:032x}", f"question {n}", True, 1))
    assert log.flush()
    for n in range(50, 60):  # still being written while the backup runs
        log.record(asked(f"{n:032x}", f"question {n}", True, 1))
    with sqlite3.connect(tmp_path / "questions.db") as live, sqlite3.connect(tmp_path / "backup.db") as copy:
        live.backup(copy)
    assert log.flush()
    backed_up = QuestionLog(f"sqlite:///{tmp_path / 'backup.db'}")
    assert 50 <= backed_up.insight(1).total <= 60
    assert {row["question"] for row in backed_up.questions(1, limit=100)} >= {
        f"question {n}" for n in range(50)
    }


def test_normalize_question() -> None:
    assert normalize_question("  Who  Oversees\tElections?? ") == "who oversees elections"


def test_asks_and_feedback_over_http_reach_admin_without_client_addresses(
    server: ServerProcess, tmp_path: Path
) -> None:
    body = server.ask("Who oversees elections in the county of Nowhere-Else?").json()
    assert len(body["id"]) == 32
    feedback = requests.post(
        server.url + "/api/feedback",
        json={"answer_id": body["id"], "helpful": False, "comment": "too vague"},
        timeout=5,
    )
    assert feedback.status_code == 202
    assert feedback.json() == {"status": "recorded"}
    bad = requests.post(server.url + "/api/feedback", json={"answer_id": "nope", "helpful": "yes"}, timeout=5)
    assert bad.status_code == 400
    # one vote per answer, and only for answers that were given
    again = requests.post(
        server.url + "/api/feedback", json={"answer_id": body["id"], "helpful": True}, timeout=5
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    never = requests.post(
        server.url + "/api/feedback", json={"answer_id": "0" * 32, "helpful": True}, timeout=5
    )
    assert never.status_code == 404 and never.json()["error"]["code"] == "not_found"

    assert requests.get(server.url + "/admin", timeout=5).status_code == 401
    assert requests.get(server.url + "/admin", auth=("admin", "wrong"), timeout=5).status_code == 401
    page = ""
    for _ in range(50):  # records are written by a background thread, about once a second at most
        page = requests.get(server.url + "/admin", auth=("admin", ADMIN_TOKEN), timeout=5).text
        if "too vague" in page:
            break
        time.sleep(0.2)
    # the thumbs-down row names the question as asked (the most-asked table is a top 20 of every test's traffic)
    assert "Who oversees elections in the county of Nowhere-Else?</td>" in page
    assert "too vague" in page

    # the recent-questions table shows what citewell said to each question and the reader's verdict
    assert "not helpful: too vague" in page
    assert 'aria-label="Legend"' in page
    outcome = "answered" if body["answered"] else "refused"
    for shown in ("answered", "refused"):
        filtered = requests.get(
            server.url + f"/admin?days=7&outcome={shown}", auth=("admin", ADMIN_TOKEN), timeout=5
        ).text
        recent = filtered.split('<h2 id="recent">')[1].split("<h2")[0]
        assert ("Nowhere-Else?</td>" in recent) == (shown == outcome)

    database = server_question_db(server)
    dump = "\n".join(sqlite3.connect(database).iterdump())
    assert "Nowhere-Else" in dump
    assert "127.0.0.1" not in dump


def server_question_db(server: ServerProcess) -> Path:
    ready = requests.get(server.url + "/api/ready", timeout=5).json()
    assert ready["status"] == "ready"
    found = Path(server.index_dir).parent / f"{Path(server.index_dir).name}.questions.db"
    assert found.exists(), "the question log lives beside the index, named after it"
    return found


def test_csv_export_holds_answers_and_feedback_and_defuses_formulas(server: ServerProcess) -> None:
    formula = '=HYPERLINK("http://evil.example") who oversees elections?'
    answered = server.ask("Who oversees elections in the U.S.?").json()
    server.ask(formula)
    vote = {"answer_id": answered["id"], "helpful": True, "comment": "clear"}
    assert requests.post(server.url + "/api/feedback", json=vote, timeout=5).status_code == 202
    assert requests.get(server.url + "/admin/questions.csv", timeout=5).status_code == 401
    rows: list[dict[str, str]] = []
    for _ in range(50):  # written in the background
        response = requests.get(
            server.url + "/admin/questions.csv?days=1", auth=("a", ADMIN_TOKEN), timeout=5
        )
        assert response.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        if any(r["comment"] == "clear" for r in rows) and any("evil" in r["question"] for r in rows):
            break
        time.sleep(0.2)
    [row] = [r for r in rows if r["comment"] == "clear"]
    assert row["question"] == "Who oversees elections in the U.S.?" and row["answered"] == "yes"
    assert row["answer"] == answered["answer"] and row["helpful"] == "yes"
    assert row["sources"] == "Securing Elections"
    [evil] = [r for r in rows if "evil" in r["question"]]
    assert evil["question"] == "'" + formula  # a spreadsheet shows it as text, never runs it
    only_answered = requests.get(
        server.url + "/admin/questions.csv?days=1&outcome=answered", auth=("a", ADMIN_TOKEN), timeout=5
    )
    assert {r["answered"] for r in csv.DictReader(io.StringIO(only_answered.text))} == {"yes"}


def test_answer_state_follows_records_of_any_process(question_log: QuestionLog, tmp_path: Path) -> None:
    question_log.record(asked("a" * 32, "Who?", True, 1))
    assert question_log.answer_state("a" * 32) == "open"
    question_log.record(FeedbackRecord("a" * 32, datetime.now(UTC), True, None))
    assert question_log.answer_state("a" * 32) == "rated"
    assert question_log.flush()
    # another process sharing the database sees what this one wrote
    other = QuestionLog(question_log.url)
    assert other.answer_state("a" * 32) == "rated"
    assert other.answer_state("b" * 32) == "unknown"


def test_two_indexes_in_one_folder_never_share_a_question_log(tmp_path: Path) -> None:
    from service.app import default_question_log

    assert default_question_log(tmp_path / "index") == (tmp_path / "index.questions.db").resolve()
    assert default_question_log(tmp_path / "docs") != default_question_log(tmp_path / "index")


def test_admin_is_absent_without_a_token(tmp_path: Path, corpus_index_dir: Path, embedder: Embedder) -> None:
    from service import create_app

    settings = {"INDEX": str(corpus_index_dir), "QUESTION_LOG": f"sqlite:///{tmp_path / 'q.db'}"}
    app = create_app(settings, embedder=embedder)  # the session's model, not a second copy
    assert app.test_client().get("/admin").status_code == 404


def test_a_question_log_that_cannot_be_opened_never_fails_an_answer(
    tmp_path: Path, corpus_index_dir: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    """The database's errors stay in the log: questions are answered; /admin, which must read it, is a JSON 500."""
    unusable = f"sqlite:///{tmp_path / 'no-such-folder' / 'questions.db'}"
    client = ready_client(corpus_index_dir, embedder, QUESTION_LOG=unusable, ADMIN_TOKEN=ADMIN_TOKEN)
    answer = client.post("/api/ask", json={"question": "Who designated election infrastructure?"})
    assert answer.status_code == 200 and answer.json["answered"]
    admin = client.get("/admin", auth=("admin", ADMIN_TOKEN))
    assert admin.status_code == 500 and admin.json["error"]["code"] == "internal_error"
    assert [r.getMessage() for r in caplog.records if r.name == "service.errors"] == ["unhandled error"]


def test_records_queued_when_the_server_stops_are_written(
    tmp_path: Path, corpus_index_dir: Path, embedder: Embedder
) -> None:
    """SIGTERM right after an answer: the worker writes what its log still holds before it exits."""
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index_dir, index_dir)
    # the writer gathers records for 5 s, so they are still queued when SIGTERM comes
    settings = {"RATE_LIMIT": "100000/minute", "QUESTION_LOG_FLUSH_SECONDS": "20"}
    process = ServerProcess(index_dir, tmp_path / "server.log", settings)
    try:
        process.wait_until("/api/ready")
        questions = [f"Who oversees elections in county number {n}?" for n in range(5)]
        for question in questions:
            assert process.ask(question).status_code == 200
    finally:
        assert process.stop() == 0
    dump = "\n".join(sqlite3.connect(tmp_path / "index.questions.db").iterdump())
    assert all(question in dump for question in questions)
