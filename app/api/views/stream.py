"""``/v2/<endpoint_id>/stream/<job_id>``: a generator job's chunks, polled or as Server-Sent Events."""

from __future__ import annotations

from typing import Any

from flask import request

from ...core.limits import Operation
from .. import streaming
from ..blueprint import Blueprint
from ..gateway import current_gateway
from ..schemas import StreamQuerySchema, StreamSchema

blp = Blueprint("stream", __name__, url_prefix="/v2/<endpoint_id>", description="Streamed output of generator handlers")


@blp.route("/stream/<job_id>", methods=["GET", "POST"])
@blp.operation(Operation.STREAM)
@blp.arguments(StreamQuerySchema, location="query")
@blp.response(200, StreamSchema)
def stream(query: dict[str, Any], endpoint_id: str, job_id: str) -> Any:
    """A generator job's chunks not handed out yet, in order; ``wait`` holds for the next one.

    With ``Accept: text/event-stream`` the answer is Server-Sent Events instead: one ``chunk``
    event per chunk (``id`` its index from 0, ``data`` ``{"output": chunk}``), then one
    ``status`` event (``data`` the job's status) once it has ended; ``Last-Event-ID: k``
    resumes at chunk k+1. Events and polling do not consume each other's chunks.
    """
    gw = current_gateway()
    gw.job(endpoint_id, job_id)
    if streaming.wants_events(request):
        return streaming.event_response(gw, endpoint_id, job_id, request.headers.get("Last-Event-ID"))
    return streaming.poll(gw, endpoint_id, job_id, query["wait"])
