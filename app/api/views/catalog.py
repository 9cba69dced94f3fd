"""``GET /v2/endpoints``: the endpoints a key may call, and whether it may change anything (the console's start)."""

from __future__ import annotations

from typing import Any

from flask import g

from ..blueprint import Blueprint
from ..gateway import current_gateway
from ..schemas import EndpointListSchema

blp = Blueprint("catalog", __name__, url_prefix="/v2", description="What the presented key may see")


@blp.route("/endpoints", methods=["GET"])
@blp.response(200, EndpointListSchema)
def endpoints() -> dict[str, Any]:
    """The endpoints this key may call, and whether it is read-only."""
    principal = g.principal  # set by admission for every /v2 request
    ids = [eid for eid in current_gateway().registry.ids() if principal.endpoints is None or eid in principal.endpoints]
    return {
        "key": {"id": principal.key_id, "readOnly": principal.read_only},
        "endpoints": [{"id": eid} for eid in ids],
    }
