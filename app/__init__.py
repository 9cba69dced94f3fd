"""jobgate gateway: a RunPod Serverless compatible HTTP API in front of Celery workers."""
from __future__ import annotations

import logging
from typing import Any, Mapping

import flask_smorest
import swagger_ui_bundle
from flask import Flask, jsonify, request, send_from_directory
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from . import admission
from .endpoints import Registry
from .errors import JobgateError, ServiceUnavailable
from .schemas import ErrorSchema
from .settings import Settings

log = logging.getLogger("jobgate.gateway")
DOCS_ASSETS = "/docs/assets/"


class Api(flask_smorest.Api):
    """flask-smorest's Api, with errors in jobgate's one JSON shape."""

    ERROR_SCHEMA = ErrorSchema
    # Every status an operation answers is listed (app/blueprint.py): no catch-all "default".
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        super()._register_responses()
        retry_after = {"Retry-After": {"description": "Seconds to wait before trying again", "required": True,
                                       "schema": {"type": "integer", "minimum": 1}}}
        for name, description in (("RATE_LIMITED", "A rate, concurrency or queue-depth limit was hit"),
                                  ("UNAVAILABLE", "Redis or the broker is unreachable")):
            self.spec.components.response(name, {
                "description": description, "headers": retry_after,
                "content": {"application/json": {"schema": self.ERROR_SCHEMA}}})

    def handle_http_exception(self, error: HTTPException):  # type: ignore[override]
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


def _error_response(exc: JobgateError):
    response = jsonify(exc.to_dict())
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the gateway from ``Settings`` (or overrides on the environment's settings)."""
    from workers.celery_app import make_celery

    from . import fleet_routes, metrics, openai_routes, requests_routes, routes
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
        # Swagger UI's files come from the swagger-ui-bundle package: /docs works offline.
        OPENAPI_SWAGGER_UI_PATH="docs", OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS,
        MAX_CONTENT_LENGTH=None,
    )
    api = Api(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    endpoint_param = [{
        "in": "path", "name": "endpoint_id", "required": True,
        "description": "An endpoint of this gateway's endpoints file",
        "schema": {"type": "string", "enum": registry.ids()}}]
    for blueprint in (routes.blp, openai_routes.blp, requests_routes.blp, fleet_routes.blp):
        api.register_blueprint(blueprint, parameters=endpoint_param)
    app.register_blueprint(metrics.blueprint)
    app.add_url_rule(DOCS_ASSETS + "<path:filename>", "docs_assets",
                     lambda filename: send_from_directory(swagger_ui_bundle.swagger_ui_path, filename))
    app.extensions["jobgate"] = Gateway(settings, registry, celery)
    admission.install(app)

    app.register_error_handler(JobgateError, _error_response)

    def unavailable(exc: Exception):
        log.warning("backend unavailable: %s", exc)
        return _error_response(ServiceUnavailable(
            "Redis is unreachable; try again shortly", headers={"Retry-After": "5"}))

    for exc_type in (RedisConnectionError, RedisTimeoutError, OperationalError):
        app.register_error_handler(exc_type, unavailable)
    return app
