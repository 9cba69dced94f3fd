"""The RunPod-compatible operations under ``/v2/<endpoint_id>/``. Views stay thin."""
from __future__ import annotations

from typing import Any

from flask import current_app, request

from . import streaming
from .blueprint import Blueprint
from .errors import BadRequest, NotFound
from .gateway import Gateway
from .jobstore import Job, now_ms
from .schemas import (HealthSchema, JobSchema, JobSubmittedSchema, PurgeSchema, RunRequestSchema,
                      StatusQuerySchema, StreamQuerySchema, StreamSchema, WaitQuerySchema)
from .states import RETRYABLE, JobStatus

blp = Blueprint("jobs", __name__, url_prefix="/v2/<endpoint_id>",
                description="RunPod Serverless compatible job operations")


def gw() -> Gateway:
    return current_app.extensions["jobgate"]


def job_of(endpoint_id: str, job_id: str) -> Job:
    """The job, only through the endpoint it was submitted to."""
    gw().endpoint(endpoint_id)
    job = gw().store.get(job_id)
    if job is None or job.endpoint != endpoint_id:
        raise NotFound(f"job {job_id} not found (unknown, purged or expired)")
    return job


@blp.route("/run", methods=["POST"])
@blp.arguments(RunRequestSchema)
@blp.response(200, JobSubmittedSchema)
def run(body: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    """Submit a job; answers at once with its id."""
    job = gw().dispatcher.submit(gw().endpoint(endpoint_id), body, sync=False)
    return {"id": job.id, "status": job.status.value}


@blp.route("/runsync", methods=["POST"])
@blp.arguments(RunRequestSchema)
@blp.arguments(WaitQuerySchema, location="query")
@blp.response(200, JobSchema)
def runsync(body: dict[str, Any], query: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    """Submit a job and hold the request until it ends or ``wait`` ms pass."""
    job = gw().dispatcher.submit(gw().endpoint(endpoint_id), body, sync=True)
    return gw().wait_for(job.id, query["wait"]).to_status()


@blp.route("/status/<job_id>", methods=["GET", "POST"])
@blp.arguments(StatusQuerySchema, location="query")
@blp.response(200, JobSchema)
def status(query: dict[str, Any], endpoint_id: str, job_id: str) -> dict[str, Any]:
    """A job's state, timings and output or error; ``ttl`` resets its retention."""
    job = job_of(endpoint_id, job_id)
    if "ttl" in query:
        gw().store.set_retention(job.id, query["ttl"])
    return job.to_status()


@blp.route("/status-sync/<job_id>", methods=["GET", "POST"])
@blp.arguments(WaitQuerySchema, location="query")
@blp.response(200, JobSchema)
def status_sync(query: dict[str, Any], endpoint_id: str, job_id: str) -> dict[str, Any]:
    """Like status, but holds the request until the job ends or ``wait`` ms pass."""
    job_of(endpoint_id, job_id)
    return gw().wait_for(job_id, query["wait"]).to_status()


@blp.route("/stream/<job_id>", methods=["GET", "POST"])
@blp.arguments(StreamQuerySchema, location="query")
@blp.response(200, StreamSchema)
def stream(query: dict[str, Any], endpoint_id: str, job_id: str) -> Any:
    """A generator job's chunks not handed out yet, in order; ``wait`` holds for the next one.

    With ``Accept: text/event-stream`` the answer is Server-Sent Events instead: one ``chunk``
    event per chunk (``id`` its index from 0, ``data`` ``{"output": chunk}``), then one
    ``status`` event (``data`` the job's status) once it has ended; ``Last-Event-ID: k``
    resumes at chunk k+1. Events and polling do not consume each other's chunks.
    """
    job_of(endpoint_id, job_id)
    if streaming.wants_events(request):
        return streaming.event_response(gw(), job_id, request.headers.get("Last-Event-ID"))
    return streaming.poll(gw(), job_id, query["wait"])


@blp.route("/cancel/<job_id>", methods=["POST"])
@blp.response(200, JobSchema)
def cancel(endpoint_id: str, job_id: str) -> dict[str, Any]:
    """Cancel a queued or running job; a finished job is left as it is."""
    job = job_of(endpoint_id, job_id)
    if gw().dispatcher.cancel(job):
        return {"id": job.id, "status": JobStatus.CANCELLED.value}
    return job_of(endpoint_id, job_id).to_status()


@blp.route("/retry/<job_id>", methods=["POST"])
@blp.response(200, JobSubmittedSchema)
def retry(endpoint_id: str, job_id: str) -> dict[str, Any]:
    """Queue a FAILED or TIMED_OUT job again, same id and input."""
    job = job_of(endpoint_id, job_id)
    if job.status not in RETRYABLE:
        raise BadRequest(f"job {job_id} is {job.status.value}; only FAILED or TIMED_OUT jobs can be retried")
    outcome = gw().store.retry(job)
    if outcome is None:
        raise NotFound(f"job {job_id} not found (unknown, purged or expired)")
    if outcome != "OK":
        raise BadRequest(f"job {job_id} is {outcome}; only FAILED or TIMED_OUT jobs can be retried")
    job = gw().store.get(job_id) or job
    gw().dispatcher.send(gw().endpoint(endpoint_id), job)
    return {"id": job.id, "status": JobStatus.IN_QUEUE.value}


@blp.route("/purge-queue", methods=["POST"])
@blp.response(200, PurgeSchema)
def purge_queue(endpoint_id: str) -> dict[str, Any]:
    """Remove this endpoint's queued jobs; running jobs go on."""
    removed = gw().dispatcher.purge(gw().endpoint(endpoint_id))
    return {"removed": removed, "status": "completed"}


@blp.route("/health", methods=["GET"])
@blp.response(200, HealthSchema)
def health(endpoint_id: str) -> dict[str, Any]:
    """Job counts and workers by state, from counters and heartbeats in Redis."""
    endpoint = gw().endpoint(endpoint_id)
    return {"jobs": gw().store.counts(endpoint.id),
            "workers": gw().fleet.counts(endpoint.id, now_ms())}
