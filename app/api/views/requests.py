"""``GET /v2/<endpoint_id>/requests``: what an endpoint is doing, without opening Redis.

Served from the job store's per-endpoint index (newest first), which loses a job
when its record expires; input and output are never listed. ``/requests/<job_id>`` is one
job as listed, with its input, output or error (the console's job page).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from ...core.clock import now_ms
from ...core.job import Job
from ...core.limits import Operation
from ...core.states import JobStatus
from ..blueprint import Blueprint
from ..gateway import current_gateway

blp = Blueprint("requests", __name__, url_prefix="/v2/<endpoint_id>", description="The endpoint's jobs, newest first")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(position: tuple[int, str]) -> str:
    """An opaque cursor for a listing position (created ms, job id)."""
    return base64.urlsafe_b64encode(f"{position[0]}:{position[1]}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The position a cursor stands for; ValueError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, _, job_id = raw.partition(":")
        if not job_id:
            raise ValueError("no job id")
        return int(score), job_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("not a cursor from this listing") from exc


def iso(ms: int | None) -> str | None:
    """ISO 8601 in UTC with milliseconds, e.g. ``2025-01-31T12:00:00.123Z``."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestsQuerySchema(Schema):
    status = fields.List(
        fields.String(), metadata={"description": "Only jobs in these states: repeat it, or separate them with commas"}
    )
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Jobs per page (1-{MAX_LIMIT})"},
    )
    cursor = fields.String(metadata={"description": "`nextCursor` of the previous page"})

    @post_load
    def _parse(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        names = [n.strip() for value in data.get("status", []) for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in JobStatus.__members__]
        if unknown:
            raise ValidationError(
                f"unknown state {', '.join(unknown)}; one of {', '.join(JobStatus.__members__)}", "status"
            )
        data["status"] = [JobStatus(n) for n in dict.fromkeys(names)]
        if "cursor" in data:
            try:
                data["cursor"] = decode_cursor(data["cursor"])
            except ValueError as exc:
                raise ValidationError(str(exc), "cursor") from exc
        return data


class RequestSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    createdAt = fields.String(required=True, metadata={"description": "ISO 8601, UTC"})
    startedAt = fields.String(allow_none=True, metadata={"description": "ISO 8601, UTC"})
    finishedAt = fields.String(allow_none=True, metadata={"description": "ISO 8601, UTC"})
    delayTime = fields.Integer(allow_none=True, metadata={"description": "ms spent queued"})
    executionTime = fields.Integer(allow_none=True, metadata={"description": "ms spent running"})
    workerId = fields.String(allow_none=True)
    retries = fields.Integer(required=True)


class RequestsPageSchema(Schema):
    requests = fields.List(fields.Nested(RequestSchema), required=True)
    nextCursor = fields.String(
        allow_none=True, required=True, metadata={"description": "Pass as `cursor` for the next page; null at the end"}
    )


def listed(job: Job, at_ms: int) -> dict[str, Any]:
    """One job as /requests lists it: /status's timings, without input or output."""
    timings = job.to_status(at_ms)
    return {
        "id": job.id,
        "status": job.status.value,
        "createdAt": iso(job.created_ms),
        "startedAt": iso(job.started_ms),
        "finishedAt": iso(job.finished_ms),
        "delayTime": timings.get("delayTime"),
        "executionTime": timings.get("executionTime"),
        "workerId": job.worker_id,
        "retries": job.retries,
    }


@blp.route("/requests", methods=["GET"])
@blp.operation(Operation.REQUESTS)
@blp.arguments(RequestsQuerySchema, location="query")
@blp.response(200, RequestsPageSchema)
def list_requests(query: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    """The endpoint's jobs, newest first, with states and timings; pages with ``cursor``."""
    g = current_gateway()
    endpoint = g.endpoint(endpoint_id)
    jobs, position = g.store.list_requests(
        endpoint.id, statuses=query["status"], limit=query["limit"], after=query.get("cursor")
    )
    at = now_ms()
    return {"requests": [listed(job, at) for job in jobs], "nextCursor": encode_cursor(position) if position else None}


class RequestDetailSchema(RequestSchema):
    input = fields.Raw(allow_none=True, metadata={"description": "The job's input"})
    output = fields.Raw(allow_none=True, metadata={"description": "Its output, or its latest progress while running"})
    error = fields.String(metadata={"description": "Why it failed (a handler exception: a JSON string)"})
    webhookStatus = fields.String(metadata={"description": "pending, delivered, or failed with the last HTTP status"})
    deliveries = fields.Integer(metadata={"description": "How many times a worker took it"})


@blp.route("/requests/<job_id>", methods=["GET"])
@blp.operation(Operation.JOB)
@blp.response(200, RequestDetailSchema)
def one_request(endpoint_id: str, job_id: str) -> dict[str, Any]:
    """One job as ``/requests`` lists it, with its input and its output or error."""
    job = current_gateway().job(endpoint_id, job_id)
    body = listed(job, now_ms())
    body.update({"input": job.input, "deliveries": job.deliveries})
    status = job.to_status()
    for name in ("output", "error", "webhookStatus"):
        if name in status:
            body[name] = status[name]
    return body
