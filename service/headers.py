"""Security headers on every response; HTML pages also get a strict Content-Security-Policy."""

from __future__ import annotations

from flask import Response, current_app

# Pages and the widget need nothing inline: scripts and styles are files of this origin (the widget styles its
# Shadow DOM with a constructed stylesheet, which CSP allows), and the widget talks to this origin only.
_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
)


def security_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":
        frame_ancestors = current_app.config["FRAME_ANCESTORS"]
        response.headers["Content-Security-Policy"] = _CONTENT_SECURITY_POLICY.format(
            frame_ancestors=frame_ancestors
        )
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response
