"""``/admin``: what people ask, what citewell answered, what the documents do not answer, thumbs and latency,
for the site owner; ``/admin/questions.csv`` exports the questions with their answers and feedback.

Behind HTTP Basic authentication with ``ADMIN_TOKEN`` as the password (any user name); without a token the pages
do not exist (404).
"""

from __future__ import annotations

import csv
import hmac
import io
from typing import Any, Literal, cast

from flask import Blueprint, Response, abort, current_app, render_template, request

from service.errors import NotReady
from service.insight import QuestionLog
from service.live import LiveAnswerer

admin = Blueprint("admin", __name__)

CHART_DAYS = 30
DAY_CHOICES = (1, 7, 30, 90, 365)
OUTCOMES = ("all", "answered", "refused")
RECENT_SHOWN = 100


@admin.get("/admin")
def dashboard() -> Response | str:
    question_log, refusal = _authorized_log()
    if refusal is not None:
        return refusal
    days, outcome = _filters()
    insight = question_log.insight(days)
    tallest = max((answered + refused for _, answered, refused in insight.per_day), default=0)
    recent = question_log.questions(days, outcome=outcome, limit=RECENT_SHOWN)
    return render_template(
        "admin.html",
        insight=insight,
        tallest=max(tallest, 1),
        recent=[{**row, "sources": _sources(row["passages"])} for row in recent],
        days=days,
        outcome=outcome,
        day_choices=DAY_CHOICES,
        outcomes=OUTCOMES,
    )


@admin.get("/admin/questions.csv")
def export() -> Response:
    """Every question of the chosen days and outcome, one row each, for a spreadsheet."""
    question_log, refusal = _authorized_log()
    if refusal is not None:
        return refusal
    days, outcome = _filters()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["asked_at", "question", "answered", "score", "latency_ms", "answer", "sources", "helpful", "comment"]
    )
    for row in question_log.questions(days, outcome=outcome):
        helpful = "" if row["helpful"] is None else ("yes" if row["helpful"] else "no")
        writer.writerow(
            [
                row["asked_at"].isoformat(),
                _cell(row["question"]),
                "yes" if row["answered"] else "no",
                f"{row['score']:.3f}",
                f"{row['latency_ms']:.0f}",
                _cell(row["answer"]),
                _cell("; ".join(_sources(row["passages"]))),
                helpful,
                _cell(row["comment"] or ""),
            ]
        )
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="citewell-questions-{days}d-{outcome}.csv"'
    )
    return response


def _authorized_log() -> tuple[QuestionLog, Response | None]:
    token: str = current_app.config["ADMIN_TOKEN"]
    question_log: QuestionLog | None = current_app.extensions["citewell.questions"]
    if not token or question_log is None:
        abort(404)
    offered = request.authorization.password if request.authorization else None
    if not offered or not hmac.compare_digest(offered.encode(), token.encode()):
        response = Response("The admin page needs its token as the password.", 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Basic realm="citewell admin", charset="UTF-8"'
        return question_log, response
    return question_log, None


def _filters() -> tuple[int, Literal["all", "answered", "refused"]]:
    days = min(max(request.args.get("days", CHART_DAYS, type=int) or CHART_DAYS, 1), 366)
    outcome = request.args.get("outcome", "all")
    return days, cast(Literal["all", "answered", "refused"], outcome if outcome in OUTCOMES else "all")


def _sources(passages: list[dict[str, Any]]) -> list[str]:
    """The titles of the documents an answer quoted, in order, each once (the id when the index has no such
    document any more)."""
    try:
        documents = cast(LiveAnswerer, current_app.extensions["citewell"]).get().index.documents
    except NotReady:
        documents = {}
    titles = [
        documents[p["document"]].title if p["document"] in documents else p["document"] for p in passages
    ]
    return list(dict.fromkeys(titles))


def _cell(text: str) -> str:
    """A spreadsheet must not read a visitor's text as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
