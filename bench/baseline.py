"""The baseline: raw Celery on the same Redis, and a bare Flask route that only calls apply_async."""

from __future__ import annotations

import os
import uuid

from celery import Celery
from flask import Flask, jsonify

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
ECHO_QUEUE = "raw.echo"
SINK_QUEUE = "raw.sink"


def make_raw_celery(url: str = REDIS_URL) -> Celery:
    """Celery with its defaults, a JSON serializer and the Redis result backend."""
    app = Celery("raw", broker=url, backend=url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name="raw.echo")
    def echo(data):
        return {"echo": data}

    return app


celery = make_raw_celery()  # `celery -A bench.baseline worker` needs an app at import


def create_bare_app() -> Flask:
    """POST /run: apply_async and answer the id, nothing else (same server settings as jobgate)."""
    app = Flask("bare")
    raw = make_raw_celery()

    @app.post("/run")
    def run():
        task_id = str(uuid.uuid4())
        raw.send_task("raw.echo", args=[{"x": 1}], task_id=task_id, queue=SINK_QUEUE)
        return jsonify({"id": task_id, "status": "IN_QUEUE"})

    return app
