"""flask-smorest Blueprint whose argument errors are jobgate's 400s, naming the field."""
from __future__ import annotations

import json
from typing import Any, NoReturn

import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser

from .errors import BadRequest


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """``{"policy": {"ttl": [...]}}`` -> ``{"policy.ttl": [...]}``."""
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = "body" if key == "_schema" else str(key)
            out.update(flatten(value, f"{prefix}.{name}" if prefix else name))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "body": messages}
    return {prefix or "body": [str(messages)]}


class Parser(FlaskParser):
    """Reads JSON whatever the content type, and fails with BadRequest."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req: Any) -> Any:
        # curl without -H 'Content-Type: application/json' still sends JSON.
        data = req.get_data(cache=True)
        if not data:
            return core.missing
        return core.parse_json(data)

    def _handle_invalid_json_error(self, error: Exception, req: Any, *a: Any, **k: Any) -> NoReturn:
        detail = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        raise BadRequest(f"body: malformed JSON ({detail})", errors={"body": [detail]})

    def handle_error(self, error: ma.ValidationError, req: Any, schema: Any, *, error_status_code: Any,
                     error_headers: Any) -> NoReturn:
        messages = error.messages
        if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in (
                "json", "query", "view_args", "headers"):
            messages = next(iter(messages.values()))
        fields = flatten(messages)
        summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        raise BadRequest(summary or "invalid request", errors=fields)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()
