"""RunPod's job operations under ``/v2/<endpoint_id>/``: run, runsync, status, status-sync, cancel, retry."""

from __future__ import annotations

from typing import Any

from flask import request

from ...core.errors import BadRequest
from ...core.job import Job
from ...core.limits import Operation
from ...core.states import RETRYABLE, JobStatus
from .. import streaming
from ..blueprint import Blueprint
from ..gateway import current_gateway
from ..idempotency import submit_once
from ..schemas import (
    IdempotencyHeaderSchema,
    JobSchema,
    JobSubmittedSchema,
    RunRequestSchema,
    StatusQuerySchema,
    WaitQuerySchema,
)

blp = Blueprint(
    "jobs", __name__, url_prefix="/v2/<endpoint_id>", description="RunPod Serverless compatible job operations"
)


def submit(body: dict[str, Any], headers: dict[str, Any], endpoint_id: str, *, sync: bool) -> Job:
    """Submit the job, or, with an Idempotency-Key seen before, find the job it made."""
    gw = current_gateway()
    endpoint = gw.endpoint(endpoint_id)
    key = headers.get("idempotency_key")
    if key is None:
        return gw.dispatcher.submit(endpoint, body, sync=sync)
    return submit_once(gw, endpoint, body, sync=sync, key=key)


@blp.route("/run", methods=["POST"])
@blp.operation(Operation.RUN)
@blp.arguments(RunRequestSchema)
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.response(200, JobSubmittedSchema)
@blp.alt_response(409, response="CONFLICT")
def run(body: dict[str, Any], headers: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    """Submit a job; answers at once with its id. An ``Idempotency-Key`` seen before (same key,
    same body, within 24 h) answers the job it made, with its current status."""
    job = submit(body, headers, endpoint_id, sync=False)
    return {"id": job.id, "status": job.status.value}


@blp.route("/runsync", methods=["POST"])
@blp.operation(Operation.RUNSYNC)
@blp.arguments(RunRequestSchema)
@blp.arguments(WaitQuerySchema, location="query")
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.response(200, JobSchema)
@blp.alt_response(409, response="CONFLICT")
def runsync(body: dict[str, Any], query: dict[str, Any], headers: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    """Submit a job and hold the request until it ends or ``wait`` ms pass. With an
    ``Idempotency-Key`` seen before, waits for the job it made instead (a client that lost
    its connection sends the same request again)."""
    job = submit(body, headers, endpoint_id, sync=True)
    return current_gateway().wait_for(endpoint_id, job.id, query["wait"]).to_status()


@blp.route("/status/<job_id>", methods=["GET", "POST"])
@blp.operation(Operation.STATUS)
@blp.arguments(StatusQuerySchema, location="query")
@blp.response(200, JobSchema)
def status(query: dict[str, Any], endpoint_id: str, job_id: str) -> Any:
    """A job's state, timings and output or error; ``ttl`` resets its retention.

    With ``Accept: text/event-stream`` the answer is Server-Sent Events instead: one ``status``
    event (``data`` the job as this operation shows it) now and each time the job changes (its
    state, its progress value, its error or its retries), the last one once it has ended. A
    follower sees every progress value (``jobgate ... --wait`` follows a job so).
    """
    gw = current_gateway()
    job = gw.job(endpoint_id, job_id)
    if "ttl" in query:
        gw.store.set_retention(job, query["ttl"])
    if streaming.wants_events(request):
        return streaming.status_event_response(gw, job.id)
    body = job.to_status()
    if job.status is JobStatus.IN_QUEUE:
        body["queue"] = gw.why_waiting(job)
    return body


@blp.route("/status-sync/<job_id>", methods=["GET", "POST"])
@blp.operation(Operation.STATUS_SYNC)
@blp.arguments(WaitQuerySchema, location="query")
@blp.response(200, JobSchema)
def status_sync(query: dict[str, Any], endpoint_id: str, job_id: str) -> dict[str, Any]:
    """Like status, but holds the request until the job ends or ``wait`` ms pass."""
    gw = current_gateway()
    gw.job(endpoint_id, job_id)
    return gw.wait_for(endpoint_id, job_id, query["wait"]).to_status()


@blp.route("/cancel/<job_id>", methods=["POST"])
@blp.operation(Operation.CANCEL)
@blp.response(200, JobSchema)
def cancel(endpoint_id: str, job_id: str) -> dict[str, Any]:
    """Cancel a queued or running job; a finished job is left as it is."""
    gw = current_gateway()
    job = gw.job(endpoint_id, job_id)
    if gw.dispatcher.cancel(job):
        return {"id": job.id, "status": JobStatus.CANCELLED.value}
    return gw.job(endpoint_id, job_id).to_status()


@blp.route("/retry/<job_id>", methods=["POST"])
@blp.operation(Operation.RETRY)
@blp.response(200, JobSubmittedSchema)
def retry(endpoint_id: str, job_id: str) -> dict[str, Any]:
    """Queue a FAILED or TIMED_OUT job again, same id and input."""
    gw = current_gateway()
    job = gw.job(endpoint_id, job_id)
    if job.status not in RETRYABLE:
        raise BadRequest(f"job {job_id} is {job.status.value}; only FAILED or TIMED_OUT jobs can be retried")
    outcome = gw.store.retry(job)
    if outcome is None:
        raise gw.missing(endpoint_id, job_id)
    if outcome != "OK":
        raise BadRequest(f"job {job_id} is {outcome}; only FAILED or TIMED_OUT jobs can be retried")
    gw.dispatcher.send(gw.store.get(job_id) or job)
    return {"id": job.id, "status": JobStatus.IN_QUEUE.value}
