"""Streamed output: /stream's deliver-once polling and its Server-Sent Events mode; /status's events.

Chunks live in a Redis list per job (written by the worker, see JobStore.push_chunk).
Polling hands each chunk out once, through a cursor kept next to the list; Server-Sent
Events follow the same list by index (``waiting.follow_chunks``) and leave the cursor alone,
so the two never hide chunks from each other. Both sleep on the process's one pub/sub
listener between chunks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flask import Request, Response

from ..core.errors import BadRequest, JobNotFound
from ..core.states import JobStatus
from .waiting import IDLE_S, follow_chunks

if TYPE_CHECKING:
    from .gateway import Gateway

EVENT_STREAM = "text/event-stream"
# A comment line this often keeps proxies from closing an idle event stream, and finds
# clients that went away while the job had nothing to say.
KEEPALIVE_S = IDLE_S


def poll(gateway: Gateway, endpoint_id: str, job_id: str, wait_ms: int) -> dict[str, Any]:
    """The chunks not handed out yet; with ``wait_ms``, held until one arrives or the job ends."""
    if wait_ms <= 0:
        return _take(gateway, endpoint_id, job_id)[1]
    deadline = time.monotonic() + wait_ms / 1000
    with gateway.waiter.watch(job_id) as changed:
        while True:
            changed.clear()
            status, body = _take(gateway, endpoint_id, job_id)
            remaining = deadline - time.monotonic()
            if body["stream"] or status.is_terminal() or remaining <= 0:
                return body
            changed.wait(remaining)


def _take(gateway: Gateway, endpoint_id: str, job_id: str) -> tuple[JobStatus, dict[str, Any]]:
    read = gateway.store.read_stream(job_id, take=True)
    if read is None:
        raise gateway.missing(endpoint_id, job_id)
    status, _, chunks = read
    return status, {"id": job_id, "status": status.value, "stream": [{"output": c} for c in chunks]}


def wants_events(request: Request) -> bool:
    """Whether the client asked for Server-Sent Events rather than JSON."""
    return (
        request.accept_mimetypes.best_match(["application/json", EVENT_STREAM]) == EVENT_STREAM
        and EVENT_STREAM in request.accept_mimetypes.values()
    )


def resume_index(last_event_id: str | None) -> int:
    """The first chunk to send: the one after ``Last-Event-ID`` (0 without one)."""
    if last_event_id is None or last_event_id.strip() == "":
        return 0
    try:
        last = int(last_event_id)
    except ValueError:
        last = -2
    if last < -1:
        raise BadRequest(
            "Last-Event-ID: must be the id of a chunk event (an integer from 0)",
            errors={"Last-Event-ID": ["must be an integer from 0"]},
        )
    return last + 1


def _event(name: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data)}\n\n"


def events(gateway: Gateway, endpoint_id: str, job_id: str, start: int) -> Iterator[str]:
    """Chunk events from index ``start`` as they come, then one status event once terminal."""
    for update in follow_chunks(gateway.store, gateway.waiter, job_id, start, idle_s=KEEPALIVE_S):
        for offset, chunk in enumerate(update.chunks):
            yield _event("chunk", {"output": chunk}, update.start + offset)
        if update.ended:
            job = gateway.store.get(job_id) if update.status is not None else None
            if job is None:
                yield _event("error", gateway.missing(endpoint_id, job_id).to_dict())
            else:
                yield _event("status", job.to_status())
            return
        if not update.chunks:
            yield ": keepalive\n\n"


def event_response(gateway: Gateway, endpoint_id: str, job_id: str, last_event_id: str | None) -> Response:
    """The Server-Sent Events reply for one job, resuming after ``last_event_id``."""
    start = resume_index(last_event_id)
    return Response(
        events(gateway, endpoint_id, job_id, start),
        mimetype=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def status_events(gateway: Gateway, job_id: str) -> Iterator[str]:
    """One ``status`` event each time the job changes (state, progress, error, retries), the last once it ends."""
    shown: tuple[Any, ...] | None = None
    with gateway.waiter.watch(job_id) as changed:
        while True:
            changed.clear()
            job = gateway.store.get(job_id)
            if job is None:
                yield _event("error", JobNotFound(job_id).to_dict())
                return
            body = job.to_status()
            # executionTime grows by itself: a change is in what the job says, not in its clock.
            now = (
                body["status"],
                json.dumps(body.get("output"), sort_keys=True),
                body.get("error"),
                body.get("retries"),
            )
            if now != shown:
                shown = now
                yield _event("status", body)
            if job.status.is_terminal():
                return
            if not changed.wait(KEEPALIVE_S):
                yield ": keepalive\n\n"


def status_event_response(gateway: Gateway, job_id: str) -> Response:
    """The Server-Sent Events reply following one job's status."""
    return Response(
        status_events(gateway, job_id),
        mimetype=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
