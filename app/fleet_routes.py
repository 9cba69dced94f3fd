"""``GET /v2/<endpoint_id>/workers``: the live workers behind an endpoint, for operators."""
from __future__ import annotations

from typing import Any

from flask import current_app

from .blueprint import Blueprint
from .jobstore import now_ms
from .schemas import WorkerListSchema

blp = Blueprint("fleet", __name__, url_prefix="/v2/<endpoint_id>",
                description="The workers serving an endpoint (beyond RunPod's API)")


@blp.route("/workers", methods=["GET"])
@blp.response(200, WorkerListSchema)
def workers(endpoint_id: str) -> dict[str, Any]:
    """Live workers: id, host, GPU, state, current job, last heartbeat (from their heartbeats)."""
    gateway = current_app.extensions["jobgate"]
    endpoint = gateway.endpoint(endpoint_id)
    return {"workers": gateway.fleet.details(endpoint.id, now_ms())}
