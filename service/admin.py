"""``/admin``: what people ask, what the documents do not answer, thumbs down and latency, for the site owner.

Behind HTTP Basic authentication with ``ADMIN_TOKEN`` as the password (any user name); without a token the page
does not exist (404).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, render_template, request

from service.insight import QuestionLog

admin = Blueprint("admin", __name__)

CHART_DAYS = 30


@admin.get("/admin")
def dashboard() -> Response | str:
    token: str = current_app.config["ADMIN_TOKEN"]
    question_log: QuestionLog | None = current_app.extensions["citewell.questions"]
    if not token or question_log is None:
        abort(404)
    offered = request.authorization.password if request.authorization else None
    if not offered or not hmac.compare_digest(offered.encode(), token.encode()):
        response = Response("The admin page needs its token as the password.", 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Basic realm="citewell admin", charset="UTF-8"'
        return response
    days = min(max(request.args.get("days", CHART_DAYS, type=int) or CHART_DAYS, 1), 366)
    insight = question_log.insight(days)
    tallest = max((answered + refused for _, answered, refused in insight.per_day), default=0)
    return render_template("admin.html", insight=insight, tallest=max(tallest, 1))
