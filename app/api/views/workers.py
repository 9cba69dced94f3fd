"""``GET /v2/<endpoint_id>/workers``: the live workers behind an endpoint, for operators."""

from __future__ import annotations

from typing import Any

from ...core.clock import now_ms
from ...core.limits import Operation
from ..blueprint import Blueprint
from ..gateway import current_gateway
from ..schemas import WorkerListSchema

blp = Blueprint(
    "fleet",
    __name__,
    url_prefix="/v2/<endpoint_id>",
    description="The workers serving an endpoint (beyond RunPod's API)",
)


@blp.route("/workers", methods=["GET"])
@blp.operation(Operation.WORKERS)
@blp.response(200, WorkerListSchema)
def workers(endpoint_id: str) -> dict[str, Any]:
    """Live workers: id, host, GPU, state, current job, last heartbeat (from their heartbeats)."""
    gateway = current_gateway()
    endpoint = gateway.endpoint(endpoint_id)
    return {"workers": gateway.fleet.details(endpoint.id, now_ms())}
