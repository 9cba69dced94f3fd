"""One error handler: every error the gateway answers is ``{"error", "code", "errors"?}``.

The error family itself is ``app.core.errors``; werkzeug's HTTP errors (unknown route, wrong
method) and an unreachable Redis are rendered in the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

import flask_smorest
from flask import Flask, Response, jsonify, request
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from ..core.errors import JobgateError, ServiceUnavailable
from .schemas import ErrorSchema

log = logging.getLogger("jobgate.gateway")
# Seconds a caller should wait when Redis (or the broker) cannot be reached.
UNAVAILABLE_RETRY_AFTER_S = 5


class Api(flask_smorest.Api):
    """flask-smorest's Api, with errors in jobgate's one JSON shape."""

    ERROR_SCHEMA = ErrorSchema
    # Every status an operation answers is listed (app/api/blueprint.py): no catch-all "default".
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        super()._register_responses()
        retry_after = {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        }
        for name, description in (
            ("RATE_LIMITED", "A rate, concurrency or queue-depth limit was hit"),
            ("UNAVAILABLE", "Redis or the broker is unreachable"),
        ):
            self.spec.components.response(
                name,
                {
                    "description": description,
                    "headers": retry_after,
                    "content": {"application/json": {"schema": self.ERROR_SCHEMA}},
                },
            )

    def handle_http_exception(self, error: HTTPException) -> Any:
        data = getattr(error, "data", None) or {}
        message = data.get("message") or error.description or error.name
        if error.code == 404 and not data:
            message = f"no such route: {request.method} {request.path}"
        body = {"error": message, "code": error.code}
        if data.get("errors") or data.get("messages"):
            body["errors"] = data.get("errors") or data.get("messages")
        # Keep werkzeug's own headers (a 405's Allow); the body is ours, and so is its type.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers", {}))
        return body, error.code, headers


def error_response(exc: JobgateError) -> Response:
    """The JSON response for one of jobgate's errors."""
    response = jsonify(exc.to_dict())
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


def _unavailable(exc: Exception) -> Response:
    log.warning("backend unavailable: %s", exc)
    return error_response(
        ServiceUnavailable(
            "Redis is unreachable; try again shortly", headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)}
        )
    )


def install(app: Flask) -> None:
    """Render jobgate's errors, and an unreachable Redis or broker as a 503."""
    app.register_error_handler(JobgateError, error_response)
    for exc_type in (RedisConnectionError, RedisTimeoutError, OperationalError):
        app.register_error_handler(exc_type, _unavailable)
