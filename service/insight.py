"""What people ask: every question, its outcome, latency and the passages shown, and readers' thumbs up/down,
kept in a SQL database (SQLite by default; any SQLAlchemy URL, e.g. PostgreSQL) for the site owner's ``/admin``.

Writes never slow an answer: requests put records on a bounded queue and one thread per process writes them in
batches. No IP address or other client identity is stored; records older than the retention are deleted.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError

from service.answering import Answer

logger = logging.getLogger(__name__)

metadata = MetaData()

questions = Table(
    "questions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("asked_at", DateTime(timezone=True), nullable=False, index=True),
    Column("question", Text, nullable=False),
    # lower case, one space, no closing punctuation: how "most asked" groups questions
    Column("normalized", Text, nullable=False, index=True),
    Column("answered", Boolean, nullable=False),
    Column("score", Float, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("answer", Text, nullable=False),
    Column("passages", JSON, nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("answer_id", String(32), nullable=False, index=True),
    Column("given_at", DateTime(timezone=True), nullable=False, index=True),
    Column("helpful", Boolean, nullable=False),
    Column("comment", Text, nullable=True),
)

# records that could not be written (the queue was full, or the database refused a batch through every retry),
# noted when the database answers again, so /admin can say how much is missing
gaps = Table(
    "gaps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("noted_at", DateTime(timezone=True), nullable=False, index=True),
    Column("records", Integer, nullable=False),
)

# seconds between tries of a batch the database refused (locked, restarting); then the batch is dropped
WRITE_RETRIES = (1.0, 2.0, 4.0, 8.0, 16.0)

_SPACES = re.compile(r"\s+")


def normalize_question(question: str) -> str:
    return _SPACES.sub(" ", question).strip().rstrip("?!.").strip().lower()


@dataclass(frozen=True)
class AskRecord:
    id: str
    asked_at: datetime
    question: str
    answered: bool
    score: float
    latency_ms: float
    answer: str
    passages: list[dict[str, Any]]  # where each quoted passage came from: document, start, end and score

    @classmethod
    def of(cls, answer_id: str, question: str, answer: Answer, latency_ms: float) -> AskRecord:
        """What the log keeps of one answer: its outcome, what it said, and where its quotes came from."""
        return cls(
            id=answer_id,
            asked_at=datetime.now(UTC),
            question=question,
            answered=answer.answered,
            score=answer.confidence or 0.0,
            latency_ms=latency_ms,
            answer=answer.answer if answer.answered else (answer.message or ""),
            passages=[
                {
                    "document": p.source.document,
                    "start": p.source.start,
                    "end": p.source.end,
                    "score": p.score,
                }
                for p in answer.passages
            ],
        )


@dataclass(frozen=True)
class FeedbackRecord:
    answer_id: str
    given_at: datetime
    helpful: bool
    comment: str | None


@dataclass(frozen=True)
class Insight:
    """What ``/admin`` shows, over the last ``days`` days."""

    days: int
    total: int
    answered: int
    per_day: list[tuple[str, int, int]]  # (date, answered, refused)
    most_asked: list[tuple[str, int, int]]  # (question, times, times refused)
    unanswered: list[tuple[str, int, datetime]]  # (question, times, last asked)
    thumbs_down: list[dict[str, Any]]  # the newest ones, with their questions (a top ``top``)
    thumbs_up: int
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p95, p99
    dropped: int = 0  # records that could not be written (database down or locked too long)
    thumbs_down_total: int = 0


class QuestionLog:
    """A question log at ``url``; ``record`` returns at once, a writer thread stores records in batches.

    Example:
        >>> log = QuestionLog("sqlite:///questions.db"); log.start()
        >>> log.record(AskRecord("ab12", datetime.now(UTC), "Who?", True, 0.7, 120.0, "They.", []))
        >>> log.flush(); log.insight(30).total
        1
    """

    def __init__(
        self,
        url: str,
        *,
        retention_days: float = 90,
        flush_interval: float = 1.0,
        capacity: int = 10_000,
        max_questions: int = 1_000_000,
    ) -> None:
        self.url = url
        self.retention = timedelta(days=retention_days)
        self.max_questions = max_questions  # about 4 KB each: the database stays under a few GB
        self.flush_interval = flush_interval
        self._queue: queue.Queue[AskRecord | FeedbackRecord] = queue.Queue(maxsize=capacity)
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._written = threading.Condition()
        self._pending = 0
        self._dropped = 0  # records lost since the last successful write, noted in ``gaps`` with the next one
        self._last_cleanup: float | None = None
        # answers this process gave lately, and whether they were rated: known before the writer stores them
        self._recent: OrderedDict[str, bool] = OrderedDict()
        self._recent_capacity = capacity

    @property
    def engine(self) -> Engine:
        with self._engine_lock:
            if self._engine is None:
                engine = create_engine(self.url, pool_pre_ping=True)
                if engine.dialect.name == "sqlite":
                    event.listen(engine, "connect", _sqlite_pragmas)
                try:
                    _create_tables(engine)
                except Exception:
                    engine.dispose()  # its connection closes now, not whenever the garbage collector finds it
                    raise
                self._engine = engine
            return self._engine

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._write_forever, name="citewell-questions", daemon=True
            )
            self._thread.start()

    def record(self, record: AskRecord | FeedbackRecord) -> None:
        """Queue a record; when the queue is full (the database is down or slow) it is dropped, not waited for."""
        with self._written:
            self._pending += 1
            answer_id = record.id if isinstance(record, AskRecord) else record.answer_id
            self._recent[answer_id] = isinstance(record, FeedbackRecord)
            self._recent.move_to_end(answer_id)
            while len(self._recent) > self._recent_capacity:
                self._recent.popitem(last=False)
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            with self._written:
                self._pending -= 1
                self._dropped += 1
            logger.warning("question log queue is full; a record was dropped")

    def answer_state(self, answer_id: str) -> Literal["unknown", "open", "rated"]:
        """Whether an answer id was given (by any process sharing the log) and whether it was rated yet. An
        answer that another process gave in the last moment may not be written yet: it reads "unknown"."""
        with self._written:
            if answer_id in self._recent:
                return "rated" if self._recent[answer_id] else "open"
        with self.engine.connect() as connection:
            rated = connection.execute(
                select(feedback.c.id).where(feedback.c.answer_id == answer_id).limit(1)
            ).first()
            if rated is not None:
                return "rated"
            given = connection.execute(select(questions.c.id).where(questions.c.id == answer_id)).first()
        return "open" if given is not None else "unknown"

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (tests, shutdown)."""
        with self._written:
            return self._written.wait_for(lambda: self._pending == 0, timeout)

    def _write_forever(self) -> None:
        while True:
            batch: list[AskRecord | FeedbackRecord] = [self._queue.get()]
            deadline = time.monotonic() + self.flush_interval / 4
            while len(batch) < 500 and time.monotonic() < deadline:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            for pause in (*WRITE_RETRIES, None):
                try:
                    self._write(batch)
                    break
                except Exception:  # the log must never take answering down with it
                    if pause is None:
                        logger.exception(
                            "could not write %d question-log records; they are dropped", len(batch)
                        )
                        with self._written:
                            self._dropped += len(batch)
                    else:
                        logger.warning(
                            "the question log's database refused a write; trying again in %.0f s", pause
                        )
                        time.sleep(pause)
            with self._written:
                self._pending -= len(batch)
                self._written.notify_all()

    def _write(self, batch: Sequence[AskRecord | FeedbackRecord]) -> None:
        asked = [_ask_row(r) for r in batch if isinstance(r, AskRecord)]
        given = [_feedback_row(r) for r in batch if isinstance(r, FeedbackRecord)]
        with self._written:
            dropped, self._dropped = self._dropped, 0
        try:
            with self.engine.begin() as connection:
                if asked:
                    connection.execute(questions.insert(), asked)
                if given:
                    connection.execute(feedback.insert(), given)
                if dropped:
                    connection.execute(gaps.insert(), [{"noted_at": datetime.now(UTC), "records": dropped}])
                self._clean_up(connection)
        except Exception:
            with self._written:
                self._dropped += dropped  # still to be noted
            raise

    def _clean_up(self, connection: Any) -> None:
        """Once an hour: records past the retention go, and the oldest questions past ``max_questions``."""
        if self._last_cleanup is None or time.monotonic() - self._last_cleanup > 3600:
            cutoff = datetime.now(UTC) - self.retention
            connection.execute(delete(questions).where(questions.c.asked_at < cutoff))
            connection.execute(delete(feedback).where(feedback.c.given_at < cutoff))
            connection.execute(delete(gaps).where(gaps.c.noted_at < cutoff))
            newest_over_cap = connection.execute(
                select(questions.c.asked_at)
                .order_by(questions.c.asked_at.desc())
                .offset(self.max_questions)
                .limit(1)
            ).scalar()
            if newest_over_cap is not None:  # over the cap: the oldest questions and their feedback go
                connection.execute(delete(questions).where(questions.c.asked_at <= newest_over_cap))
                connection.execute(
                    delete(feedback).where(feedback.c.answer_id.not_in(select(questions.c.id)))
                )
            self._last_cleanup = time.monotonic()

    def questions(
        self, days: int, *, outcome: Literal["all", "answered", "refused"] = "all", limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The questions of the last ``days`` days, newest first, each with what citewell said, the passages it
        showed, and its reader's vote and comment (None when there was none)."""
        since = datetime.now(UTC) - timedelta(days=days)
        query = (
            select(
                questions.c.id,
                questions.c.asked_at,
                questions.c.question,
                questions.c.answered,
                questions.c.score,
                questions.c.latency_ms,
                questions.c.answer,
                questions.c.passages,
                feedback.c.helpful,
                feedback.c.comment,
            )
            .outerjoin(feedback, feedback.c.answer_id == questions.c.id)
            .where(questions.c.asked_at >= since)
            .order_by(questions.c.asked_at.desc())
            .limit(limit)
        )
        if outcome != "all":
            query = query.where(questions.c.answered == (outcome == "answered"))
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def insight(self, days: int = 30, *, top: int = 20) -> Insight:
        since = datetime.now(UTC) - timedelta(days=days)
        recent = questions.c.asked_at >= since
        refused = func.sum(case((questions.c.answered, 0), else_=1))
        with self.engine.connect() as connection:
            day = func.date(questions.c.asked_at)
            per_day = [
                (str(d), int(total) - int(no or 0), int(no or 0))
                for d, total, no in connection.execute(
                    select(day, func.count(), refused).where(recent).group_by(day).order_by(day)
                )
            ]
            most_asked = [
                (str(q), int(n), int(no or 0))
                for q, n, no in connection.execute(
                    select(questions.c.normalized, func.count(), refused)
                    .where(recent)
                    .group_by(questions.c.normalized)
                    .order_by(func.count().desc(), questions.c.normalized)
                    .limit(top)
                )
            ]
            unanswered = [
                (str(q), int(n), last)
                for q, n, last in connection.execute(
                    select(questions.c.normalized, func.count(), func.max(questions.c.asked_at))
                    .where(recent, ~questions.c.answered)
                    .group_by(questions.c.normalized)
                    .order_by(func.count().desc(), func.max(questions.c.asked_at).desc())
                    .limit(top)
                )
            ]
            thumbs_down = [
                dict(row._mapping)
                for row in connection.execute(
                    select(
                        feedback.c.given_at,
                        feedback.c.comment,
                        questions.c.question,
                        questions.c.answer,
                        questions.c.answered,
                    )
                    .join(questions, questions.c.id == feedback.c.answer_id)
                    .where(feedback.c.given_at >= since, ~feedback.c.helpful)
                    .order_by(feedback.c.given_at.desc())
                    .limit(top)
                )
            ]
            thumbs_up = connection.execute(
                select(func.count()).where(feedback.c.given_at >= since, feedback.c.helpful)
            ).scalar_one()
            thumbs_down_total = connection.execute(
                select(func.count()).where(feedback.c.given_at >= since, ~feedback.c.helpful)
            ).scalar_one()
            dropped = connection.execute(
                select(func.coalesce(func.sum(gaps.c.records), 0)).where(gaps.c.noted_at >= since)
            ).scalar_one()
            latencies = np.array(
                connection.execute(
                    select(questions.c.latency_ms)
                    .where(recent)
                    .order_by(questions.c.asked_at.desc())
                    .limit(100_000)
                )
                .scalars()
                .all(),
                dtype=np.float64,
            )
        # every day of the window, quiet ones included, so the chart reads as a time line
        counted = {day: (a, r) for day, a, r in per_day}
        today = datetime.now(UTC).date()
        window = [str(today - timedelta(days=back)) for back in range(days - 1, -1, -1)]
        per_day = [(day, *counted.get(day, (0, 0))) for day in window]
        total = sum(a + r for _, a, r in per_day)
        percentiles = (
            {f"p{p}": float(np.percentile(latencies, p)) for p in (50, 95, 99)} if latencies.size else {}
        )
        return Insight(
            days=days,
            total=total,
            answered=sum(a for _, a, _ in per_day),
            per_day=per_day,
            most_asked=most_asked,
            unanswered=unanswered,
            thumbs_down=thumbs_down,
            thumbs_up=int(thumbs_up),
            latency_ms=percentiles,
            dropped=int(dropped),
            thumbs_down_total=int(thumbs_down_total),
        )


def _create_tables(engine: Engine) -> None:
    """The log's tables, where missing. Replicas that start together on an empty database race to create them,
    and PostgreSQL refuses all but the first (a duplicate type name): the others then find them made."""
    try:
        metadata.create_all(engine)
    except DBAPIError:
        metadata.create_all(engine)


def _ask_row(record: AskRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "asked_at": record.asked_at,
        "question": record.question,
        "normalized": normalize_question(record.question),
        "answered": record.answered,
        "score": record.score,
        "latency_ms": record.latency_ms,
        "answer": record.answer,
        "passages": record.passages,
    }


def _feedback_row(record: FeedbackRecord) -> dict[str, Any]:
    return {
        "answer_id": record.answer_id,
        "given_at": record.given_at,
        "helpful": record.helpful,
        "comment": record.comment,
    }


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets the admin page read while workers write; the busy timeout lets several worker processes share it
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
