"""A job's record as the store keeps it, and as /status shows it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from .clock import now_ms
from .states import JobStatus

# "No output": distinct from an output of null.
MISSING: Any = object()


def error_text(error_type: str, message: str, **details: Any) -> str:
    """A failed job's ``error``: one shape whatever failed, RunPod's for a handler exception.

    A JSON string with ``error_type`` and ``error_message``, and any details (``hostname``,
    ``worker_id``, ``deliveries``...). A handler that returns ``{"error": ...}`` sets its own.
    """
    return json.dumps({"error_type": error_type, "error_message": message, **details})


def new_job_id(sync: bool = False) -> str:
    """A random, unguessable job id (``sync-`` prefixed for /runsync, as RunPod does)."""
    return ("sync-" if sync else "") + str(uuid.uuid4())


@dataclass
class Job:
    """One job's record, as read from Redis."""

    id: str
    endpoint: str
    status: JobStatus
    input: Any = None
    created_ms: int = 0
    queued_ms: int = 0
    started_ms: int | None = None
    finished_ms: int | None = None
    worker_id: str | None = None
    output: Any = MISSING
    error: str | None = None
    retries: int = 0
    deliveries: int = 0
    mode: str = "async"
    webhook: str | None = None
    execution_timeout_ms: int = 0
    ttl_ms: int = 0
    retention_ms: int = 0
    low_priority: bool = False
    webhook_status: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_output(self) -> bool:
        return self.output is not MISSING

    @property
    def deadline_ms(self) -> int:
        """When policy.ttl removes the job (its lifetime counts from submission or retry)."""
        return self.queued_ms + self.ttl_ms

    @classmethod
    def from_hash(cls, job_id: str, h: dict[str, str]) -> Job:
        def num(name: str) -> int | None:
            return int(h[name]) if h.get(name) not in (None, "") else None

        return cls(
            id=job_id,
            endpoint=h.get("endpoint", ""),
            status=JobStatus(h["status"]),
            input=json.loads(h["input"]) if "input" in h else None,
            created_ms=num("created") or 0,
            queued_ms=num("queued") or num("created") or 0,
            started_ms=num("started"),
            finished_ms=num("finished"),
            worker_id=h.get("worker") or None,
            output=json.loads(h["output"]) if "output" in h else MISSING,
            error=h.get("error") or None,
            retries=num("retries") or 0,
            deliveries=num("deliveries") or 0,
            mode=h.get("mode", "async"),
            webhook=h.get("webhook") or None,
            execution_timeout_ms=num("execution_timeout_ms") or 0,
            ttl_ms=num("ttl_ms") or 0,
            retention_ms=num("retention_ms") or 0,
            low_priority=h.get("low_priority") == "1",
            webhook_status=h.get("webhook_status") or None,
            extra=json.loads(h["extra"]) if h.get("extra") else {},
        )

    def to_status(self, at_ms: int | None = None) -> dict[str, Any]:
        """The job as /status shows it (RunPod's keys, timings in ms)."""
        body: dict[str, Any] = {"id": self.id, "status": self.status.value}
        if self.started_ms is not None:
            body["delayTime"] = max(0, self.started_ms - self.queued_ms)
            end = self.finished_ms if self.finished_ms is not None else (at_ms or now_ms())
            body["executionTime"] = max(0, end - self.started_ms)
        if self.worker_id:
            body["workerId"] = self.worker_id
        if self.has_output:
            body["output"] = self.output
        if self.error is not None:
            body["error"] = self.error
        if self.retries:
            body["retries"] = self.retries
        if self.webhook_status:
            body["webhookStatus"] = self.webhook_status
        return body
