"""flask-smorest Blueprint whose argument errors are jobgate's 400s, naming the field.

It also documents, on every operation, the errors the admission hook (app/api/admission.py)
and the error handlers may answer, so the OpenAPI document lists what really happens; and
each view names the operation it serves (``@blp.operation(Operation.RUN)``), which decides
its limits and the key scopes it needs.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser

from ..core.errors import BadRequest
from ..core.limits import Operation
from .json_provider import parse_body

F = TypeVar("F", bound=Callable[..., Any])


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
        # Strict (app.api.json_provider): a 400 naming the body for NaN, depth, huge numbers.
        return parse_body(data)

    def handle_error(
        self, error: ma.ValidationError, req: Any, schema: Any, *, error_status_code: Any, error_headers: Any
    ) -> NoReturn:
        messages = error.messages
        if (
            isinstance(messages, dict)
            and len(messages) == 1
            and next(iter(messages)) in ("json", "query", "view_args", "headers")
        ):
            messages = next(iter(messages.values()))
        fields = flatten(messages)
        summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        raise BadRequest(summary or "invalid request", errors=fields)


# Status -> component response name (registered by flask-smorest, or by app.api.errors.Api for those
# carrying a Retry-After header).
ERROR_RESPONSES = {
    400: http.HTTPStatus(400).name,
    401: http.HTTPStatus(401).name,
    403: http.HTTPStatus(403).name,
    404: http.HTTPStatus(404).name,
    413: http.HTTPStatus(413).name,
    # Answered by gunicorn before the app (app/api/serving.py makes them JSON too).
    414: http.HTTPStatus(414).name,
    431: http.HTTPStatus(431).name,
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
}


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with jobgate's parser, error responses and operation names."""

    ARGUMENTS_PARSER = Parser()

    @staticmethod
    def operation(operation: Operation) -> Callable[[F], F]:
        """Name the operation a view serves (its rate and concurrency limits, the scopes it needs)."""

        def name(view: F) -> F:
            view.operation = operation  # type: ignore[attr-defined]
            return view

        return name

    def _store_endpoint_docs(self, endpoint: str, obj: Any, parameters: Any, tags: Any, **options: Any) -> None:
        super()._store_endpoint_docs(endpoint, obj, parameters, tags, **options)
        for method, doc in self._docs[endpoint].items():
            if method.upper() in self.HTTP_METHODS and isinstance(doc, dict):
                responses = doc.setdefault("response", {}).setdefault("responses", {})
                for status, name in ERROR_RESPONSES.items():
                    responses.setdefault(status, [name])
