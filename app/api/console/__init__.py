"""The jobs console at ``/``: static files (HTML, CSS, JavaScript; no build step, no CDN).

The page calls the public API with the key the person types in, which it keeps in the
browser tab's sessionStorage; the gateway serves the files without a key. The
Content-Security-Policy lets the page load and call nothing but this gateway.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC = Path(__file__).resolve().parent / "static"
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

blueprint = Blueprint("console", __name__)


def _send(filename: str) -> Response:
    response = send_from_directory(STATIC, filename, max_age=0)
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.get("/")
def index() -> Response:
    """The console's page."""
    return _send("index.html")


@blueprint.get("/console/<path:filename>")
def asset(filename: str) -> Response:
    """The console's scripts and styles."""
    return _send(filename)
