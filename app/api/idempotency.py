"""Idempotent submits: a step before submission that turns a repeated ``Idempotency-Key`` into
the job it first made, so a client that lost its answer can send the same request again.

The key is claimed for a new job id before the job exists (one script, so two racing requests
cannot both win); the winner submits with that id; a failed submission gives the key back, so a
retry after a 503 makes a job after all. The same key with another body is a 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g, request

from ..core.clock import now_ms
from ..core.endpoints import Endpoint
from ..core.errors import Conflict
from ..core.job import Job, new_job_id
from ..core.states import JobStatus
from ..store.apikeys import digest
from ..store.idempotency import body_hash
from .auth import presented_key
from .gateway import Gateway

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# A claim this old whose job never came to exist was left by a gateway that died between the
# claim and the submission: the key is taken over (younger: the submission is under way).
STALE_CLAIM_MS = 10_000


def scope() -> str:
    """Whose keys these are: the stored key's id, or (for a bootstrap key) a digest of the key."""
    principal = g.principal
    if principal.key_id != "bootstrap":
        return str(principal.key_id)
    return "b" + digest(presented_key(request.headers.get("Authorization")) or "")[:16]


def submit_once(gw: Gateway, endpoint: Endpoint, body: Mapping[str, Any], *, sync: bool, key: str) -> Job:
    """The job ``key`` names: submitted now if the key is new, else the one it made before."""
    fingerprint, owner = body_hash(body), scope()
    job_id, replace = new_job_id(sync), ""
    while True:
        held = gw.context.idempotency.claim(owner, endpoint.id, key, fingerprint, job_id, replace)
        if held is None:
            try:
                return gw.dispatcher.submit(endpoint, body, sync=sync, job_id=job_id)
            except BaseException:
                gw.context.idempotency.release(owner, endpoint.id, key, job_id)
                raise
        if held.body_hash != fingerprint:
            raise Conflict(
                f"{HEADER}: this key was used with another body on endpoint {endpoint.id!r} "
                f"(for job {held.job_id}); use a new key for a new request",
                errors={HEADER: ["used before with another body"]},
            )
        job = gw.store.get(held.job_id)
        if job is not None:
            return job
        if gw.store.gone(endpoint.id, held.job_id) is not None:
            raise gw.missing(endpoint.id, held.job_id)  # it ran (or was purged) and expired
        if now_ms() - held.claimed_ms < STALE_CLAIM_MS:
            # Its first request is submitting it right now.
            return Job(id=held.job_id, endpoint=endpoint.id, status=JobStatus.IN_QUEUE)
        replace = held.job_id
