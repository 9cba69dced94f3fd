"""``create_app(config)``: the gateway, built from one settings object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import swagger_ui_bundle
from flask import Flask, g, request, send_from_directory

from ..core import logs
from ..core.settings import Settings
from ..core.strictjson import JSONLimits
from ..store.context import Context
from . import admission, console, errors, json_provider, metrics
from .errors import Api
from .gateway import Gateway
from .views import catalog, endpoint, jobs, openai, requests, stream, workers

DOCS_ASSETS = "/docs/assets/"
BLUEPRINTS = (jobs.blp, stream.blp, endpoint.blp, openai.blp, requests.blp, workers.blp)


def create_app(config: Settings | Mapping[str, Any] | None = None, *, context: Context | None = None) -> Flask:
    """Build the gateway from ``Settings`` (or overrides on the environment's settings).

    ``context``: an already built context to share (its settings win over ``config``).
    """
    if context is None:
        settings = config if isinstance(config, Settings) else Settings.from_env(**dict(config or {}))
        context = Context.from_settings(settings)
    settings = context.settings
    if not settings.api_keys:
        raise RuntimeError("no API key configured: set JOBGATE_API_KEYS (comma-separated)")

    app = Flask("jobgate")
    json_provider.install(app, JSONLimits(max_depth=settings.json_max_depth))
    app.config.update(
        API_TITLE="jobgate",
        API_VERSION="2",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        # Swagger UI's files come from the swagger-ui-bundle package: /docs works offline.
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS,
        MAX_CONTENT_LENGTH=None,
    )
    api = Api(
        app,
        spec_kwargs={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    endpoint_param = [
        {
            "in": "path",
            "name": "endpoint_id",
            "required": True,
            "description": "An endpoint of this gateway's endpoints file",
            "schema": {"type": "string", "enum": context.registry.ids()},
        }
    ]
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint, parameters=endpoint_param)
    api.register_blueprint(catalog.blp)
    app.register_blueprint(metrics.blueprint)
    app.register_blueprint(console.blueprint)
    app.add_url_rule(
        DOCS_ASSETS + "<path:filename>",
        "docs_assets",
        lambda filename: send_from_directory(swagger_ui_bundle.swagger_ui_path, filename),
    )
    gateway = Gateway.attach(app, context)

    @app.before_request
    def start_background() -> None:
        gateway.reaper.ensure_running()  # once per process (gunicorn also starts it at boot)

    @app.before_request
    def bind_log_fields() -> None:
        args = request.view_args or {}
        g.log_token = logs.bind(endpoint=args.get("endpoint_id"), job_id=args.get("job_id"))

    @app.teardown_request
    def unbind_log_fields(_exc: BaseException | None = None) -> None:
        token = g.pop("log_token", None)
        if token is not None:
            try:
                logs.unbind(token)
            except ValueError:  # created in another context (a streamed response's generator)
                pass

    admission.install(app)
    errors.install(app)
    return app
