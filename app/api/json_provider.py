"""Flask's JSON, strict both ways: what the gateway reads and what it answers is RFC 8259 JSON.

Flask's default provider writes ``NaN`` and ``Infinity`` (which JSON.parse, Go and Python's
strict mode reject) and its parser recurses once per nesting level. This one parses with the
limits of ``app.core.strictjson`` and never writes a non-finite number. Flask's automatic
OPTIONS answer (an empty HTML body) becomes ``{"allow": [methods]}``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request
from flask.json.provider import DefaultJSONProvider

from ..core.errors import BadRequest
from ..core.strictjson import JSONLimits, JSONRefused, decode, ensure_headroom


class StrictJSONProvider(DefaultJSONProvider):
    """``app.json``: strict parsing within ``limits``; answers never hold NaN or Infinity."""

    def __init__(self, app: Flask, limits: JSONLimits):
        super().__init__(app)
        self.limits = limits
        # Answers may be as deep as what was accepted (plus the envelope).
        ensure_headroom(limits)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Strict JSON; JSONRefused (a ValueError, as Flask expects) says what is wrong."""
        return decode(s, self.limits)


def parse_body(data: str | bytes) -> Any:
    """A request body as strict JSON, or a 400 naming ``body`` and what is wrong."""
    try:
        return current_app.json.loads(data)
    except JSONRefused as exc:
        raise BadRequest(f"body: {exc}", errors={"body": [str(exc)]}) from None


def _json_options(response: Response) -> Response:
    # Flask answers OPTIONS itself, with an empty text/html body: here every answer is JSON.
    if request.method == "OPTIONS" and response.status_code == 200 and not response.get_data():
        response.set_data(current_app.json.dumps({"allow": sorted(response.allow)}))
        response.mimetype = "application/json"
    return response


def install(app: Flask, limits: JSONLimits) -> None:
    """Make ``app`` read and write strict JSON, and answer OPTIONS in JSON too."""
    app.json = StrictJSONProvider(app, limits)
    app.after_request(_json_options)
