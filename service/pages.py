"""The pages people see: the demo page (``/``), the full-page chat (``/chat``) and the widget script itself."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    render_template,
    request,
    send_from_directory,
)

from service.access import public_origin
from service.errors import NotReady
from service.live import LiveAnswerer
from service.schemas import CLIENT_LIMITS

pages = Blueprint("pages", __name__)

EXAMPLES_SHOWN = 4


@pages.get("/")
def demo() -> str:
    """What the documents cover, example questions to click, and the widget."""
    live: LiveAnswerer = current_app.extensions["citewell"]
    try:
        documents = list(live.get().index.documents.values())
    except NotReady:
        documents = []
    documents.sort(
        key=lambda doc: (doc.title.casefold(), doc.id)
    )  # as a reader looks for them, not by file name
    examples = [
        example for doc in documents for example in doc.metadata.get("examples", "").splitlines() if example
    ] or list(current_app.config["EXAMPLE_QUESTIONS"])  # for documents that carry none (HTML pages, PDFs)
    return render_template(
        "demo.html",
        documents=documents,
        examples=examples[:EXAMPLES_SHOWN],
        descriptions=[doc.metadata["description"] for doc in documents if doc.metadata.get("description")],
        public_origin=public_origin(),
    )


@pages.get("/chat")
def chat() -> str:
    """The chat alone, filling the page: for direct links."""
    return render_template("chat.html")


@pages.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page says; an SVG serves them all."""
    return send_from_directory(
        current_app.static_folder or "static", "favicon.svg", mimetype="image/svg+xml", max_age=86400
    )


@pages.get("/widget.js")
def widget() -> Response:
    """The chat widget, with the API's limits written in (``schemas.CLIENT_LIMITS``): one place says them."""
    response = make_response(render_template("widget.js", limits=CLIENT_LIMITS))
    response.mimetype = "text/javascript"
    response.cache_control.public = True
    response.cache_control.max_age = 300
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # other sites embed it
    response.add_etag()
    response.make_conditional(request)  # a 304 for a browser that has this version
    return response
