"""jobgate gateway: a RunPod Serverless compatible HTTP API in front of Celery workers."""
from __future__ import annotations

import logging
from typing import Any, Mapping

import flask_smorest
from flask import Flask, jsonify, request
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from .auth import check_key
from .endpoints import Registry
from .errors import JobgateError, ServiceUnavailable
from .schemas import ErrorSchema
from .settings import Settings

log = logging.getLogger("jobgate.gateway")


class Api(flask_smorest.Api):
    """flask-smorest's Api, with errors in jobgate's one JSON shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):  # type: ignore[override]
        data = getattr(error, "data", None) or {}
        body = {"error": data.get("message") or error.description or error.name, "code": error.code}
        if data.get("errors") or data.get("messages"):
            body["errors"] = data.get("errors") or data.get("messages")
        return body, error.code, data.get("headers", {})


def _error_response(exc: JobgateError):
    response = jsonify(exc.to_dict())
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the gateway from ``Settings`` (or overrides on the environment's settings)."""
    from workers.celery_app import make_celery

    from . import openai_routes, requests_routes, routes
    from .gateway import Gateway

    settings = config if isinstance(config, Settings) else Settings.from_env(**dict(config or {}))
    if not settings.api_keys:
        raise RuntimeError("no API key configured: set JOBGATE_API_KEYS (comma-separated)")
    registry = Registry.load(settings.endpoints_file)
    celery = make_celery(settings, registry)

    app = Flask("jobgate")
    app.config.update(
        API_TITLE="jobgate", API_VERSION="2", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs", OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        MAX_CONTENT_LENGTH=None,
    )
    api = Api(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    api.register_blueprint(routes.blp)
    api.register_blueprint(openai_routes.blp)
    api.register_blueprint(requests_routes.blp)
    app.extensions["jobgate"] = Gateway(settings, registry, celery)

    @app.before_request
    def authenticate() -> None:
        if request.path.startswith("/v2/"):
            check_key(request.headers.get("Authorization"), settings.api_keys)

    app.register_error_handler(JobgateError, _error_response)

    def unavailable(exc: Exception):
        log.warning("backend unavailable: %s", exc)
        return _error_response(ServiceUnavailable(
            "Redis is unreachable; try again shortly", headers={"Retry-After": "5"}))

    for exc_type in (RedisConnectionError, RedisTimeoutError, OperationalError):
        app.register_error_handler(exc_type, unavailable)
    return app
