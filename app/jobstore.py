"""The job store: every job's state lives here, in Redis, and changes only here."""
from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

from redis import Redis
from redis.exceptions import RedisError

from . import scripts
from .keys import Keys
from .metrics import JobMetrics
from .settings import Settings
from .states import RETRYABLE, JobStatus

STATS_BUCKET_S = 60
# How long after its hard time limit a running job still counts as running.
RUNNING_GRACE_MS = 60_000
# RunPod's cap on one streamed chunk, measured on its JSON encoding.
MAX_CHUNK_BYTES = 1024 * 1024
# Chunks one /stream read hands out at most (the client calls again for the rest).
STREAM_READ_LIMIT = 1000
# Index entries one /requests call may examine before it hands back a cursor to go on from.
LIST_SCAN_BUDGET = 5_000
_LIST_FIELDS = ("status", "created", "queued", "started", "finished", "worker", "retries")
_MISSING: Any = object()
log = logging.getLogger(__name__)


class ChunkTooLarge(ValueError):
    """A streamed chunk over MAX_CHUNK_BYTES: refused, nothing of it is stored."""

    def __init__(self, index: int, size: int):
        super().__init__(f"stream chunk {index} is {size} bytes as JSON; a chunk may be at most "
                         f"{MAX_CHUNK_BYTES} bytes (1 MB)")


def now_ms() -> int:
    return int(time.time() * 1000)


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
    output: Any = _MISSING
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
        return self.output is not _MISSING

    @property
    def deadline_ms(self) -> int:
        """When policy.ttl removes the job (its lifetime counts from submission or retry)."""
        return self.queued_ms + self.ttl_ms

    @classmethod
    def from_hash(cls, job_id: str, h: dict[str, str]) -> "Job":
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
            output=json.loads(h["output"]) if "output" in h else _MISSING,
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


def _pairs(h: list[str]) -> dict[str, str]:
    return dict(zip(h[::2], h[1::2]))


class JobStore:
    """Reads and changes job records; all writes are atomic scripts with expiries."""

    def __init__(self, redis: Redis, settings: Settings):
        if redis is None:
            raise ValueError("JobStore needs a Redis connection")
        self.redis = redis
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self._create = redis.register_script(scripts.CREATE)
        self._start = redis.register_script(scripts.START)
        self._finish = redis.register_script(scripts.FINISH)
        self._progress = redis.register_script(scripts.PROGRESS)
        self._retry = redis.register_script(scripts.RETRY)
        self._retain = redis.register_script(scripts.RETAIN)
        self._purge = redis.register_script(scripts.PURGE)
        self._push_chunk = redis.register_script(scripts.PUSH_CHUNK)
        self._read_stream = redis.register_script(scripts.READ_STREAM)
        self._remove = redis.register_script(scripts.REMOVE)
        self._webhook_status = redis.register_script(scripts.WEBHOOK_STATUS)
        self._list = redis.register_script(scripts.LIST)
        self.metrics = JobMetrics(redis, self.keys)

    # -- stats buckets -----------------------------------------------------
    def _bucket_key(self, endpoint: str, at_ms: int) -> str:
        return self.keys.stats(endpoint, at_ms // 1000 // STATS_BUCKET_S)

    @property
    def _stats_ttl_s(self) -> int:
        return self.settings.health_window_s + 2 * STATS_BUCKET_S

    # -- gateway side --------------------------------------------------------
    def create(
        self,
        endpoint: str,
        job_input: Any,
        *,
        sync: bool = False,
        webhook: str | None = None,
        execution_timeout_ms: int,
        ttl_ms: int | None = None,
        low_priority: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Job:
        """Record a new job as IN_QUEUE (before it is sent to Celery)."""
        job_id = new_job_id(sync)
        at = now_ms()
        ttl = ttl_ms or self.settings.job_ttl_ms
        retention_s = self.settings.result_ttl_sync_s if sync else self.settings.result_ttl_async_s
        job = Job(
            id=job_id, endpoint=endpoint, status=JobStatus.IN_QUEUE, input=job_input,
            created_ms=at, queued_ms=at, mode="sync" if sync else "async", webhook=webhook,
            execution_timeout_ms=execution_timeout_ms, ttl_ms=ttl,
            retention_ms=retention_s * 1000, low_priority=low_priority, extra=extra or {},
        )
        fields: dict[str, Any] = {
            "endpoint": endpoint, "status": job.status.value, "input": json.dumps(job_input),
            "created": at, "queued": at, "mode": job.mode, "retries": 0, "deliveries": 0,
            "execution_timeout_ms": execution_timeout_ms, "ttl_ms": ttl,
            "retention_ms": job.retention_ms, "low_priority": int(low_priority),
        }
        if webhook:
            fields["webhook"] = webhook
        if extra:
            fields["extra"] = json.dumps(extra)
        flat = [x for kv in fields.items() for x in kv]
        k = self.keys
        self._create(keys=[k.job(job_id), k.queued(endpoint), k.requests(endpoint),
                           k.requests_expiry(endpoint)],
                     args=[ttl, at + ttl, job_id, at, *flat])
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, or None when it is unknown, purged or expired."""
        h = self.redis.hgetall(self.keys.job(job_id))
        return Job.from_hash(job_id, h) if h else None

    def set_retention(self, job_id: str, retention_ms: int) -> bool:
        """Keep the job ``retention_ms`` from now if it has ended, else from when it ends."""
        k = self.keys
        return bool(self._retain(keys=[k.job(job_id), k.stream(job_id), k.stream_cursor(job_id)],
                                 args=[retention_ms, now_ms(), job_id, k.requests(""),
                                       k.requests_expiry("")]))

    def retry(self, job: Job) -> str | None:
        """Put a FAILED or TIMED_OUT job back to IN_QUEUE; returns 'OK' or the blocking status."""
        k, at = self.keys, now_ms()
        return self._retry(
            keys=[k.job(job.id), k.queued(job.endpoint), self._bucket_key(job.endpoint, at),
                  k.stream(job.id), k.stream_cursor(job.id), k.requests(job.endpoint),
                  k.requests_expiry(job.endpoint)],
            args=[at, job.id, self._stats_ttl_s])

    def purge(self, endpoint: str, broker_queues: Iterable[str]) -> int:
        """Remove every queued job of the endpoint (records and broker messages) atomically."""
        k = self.keys
        return int(self._purge(keys=[k.queued(endpoint), k.requests(endpoint),
                                     k.requests_expiry(endpoint), *broker_queues],
                               args=[k.job(""), k.stream(""), now_ms()]))

    def read_stream(self, job_id: str, *, take: bool = True, start: int = 0,
                    limit: int = STREAM_READ_LIMIT) -> tuple[JobStatus, list[Any]] | None:
        """The job's status and its streamed chunks, or None when the job is gone.

        ``take`` hands out the chunks after the deliver-once cursor and moves it; otherwise
        the chunks from index ``start`` are read and nothing moves.
        """
        k = self.keys
        res = self._read_stream(keys=[k.job(job_id), k.stream(job_id), k.stream_cursor(job_id)],
                                args=["take" if take else "peek", start, limit])
        if not res:
            return None
        status, *chunks = res
        return JobStatus(status), [json.loads(c) for c in chunks]

    def set_webhook_status(self, job_id: str, outcome: str, finished_ms: int) -> bool:
        """Record a webhook delivery outcome on the run that ended at ``finished_ms``."""
        return bool(self._webhook_status(keys=[self.keys.job(job_id)], args=[outcome, finished_ms]))

    def counts(self, endpoint: str) -> dict[str, int]:
        """Current queue and running counts, and jobs ended in the health window."""
        at = now_ms()
        k = self.keys
        first = (at - self.settings.health_window_s * 1000) // 1000 // STATS_BUCKET_S
        last = at // 1000 // STATS_BUCKET_S
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(k.queued(endpoint), "-inf", at)
        pipe.zcard(k.queued(endpoint))
        pipe.zcount(k.running(endpoint), at, "+inf")
        for bucket in range(first, last + 1):
            pipe.hgetall(k.stats(endpoint, bucket))
        _, in_queue, in_progress, *buckets = pipe.execute()
        totals: dict[str, int] = {}
        for b in buckets:
            for name, value in b.items():
                totals[name] = totals.get(name, 0) + int(value)
        return {
            "completed": totals.get("completed", 0),
            "failed": totals.get("failed", 0) + totals.get("timed_out", 0),
            "inProgress": in_progress,
            "inQueue": in_queue,
            "retried": totals.get("retried", 0),
        }

    def list_requests(
        self,
        endpoint: str,
        *,
        statuses: Iterable[JobStatus] = (),
        limit: int = 50,
        after: tuple[int, str] | None = None,
    ) -> tuple[list[Job], tuple[int, str] | None]:
        """The endpoint's jobs newest first, after ``after`` (created ms, id), and where to go on.

        Only timings, worker and retries are read (no input or output). The position to go on
        from is None when the listing has ended.
        """
        k = self.keys
        wanted = "".join(f",{s.value}" for s in statuses)
        rows, next_score, next_id = self._list(
            keys=[k.requests(endpoint), k.requests_expiry(endpoint)],
            args=[now_ms(), k.job(""), after[0] if after else "+inf", after[1] if after else "",
                  limit, wanted + "," if wanted else "", LIST_SCAN_BUDGET])
        jobs = [Job.from_hash(row[0], {"endpoint": endpoint, **{
                    name: value for name, value in zip(_LIST_FIELDS, row[1:]) if value is not None}})
                for row in rows]
        return jobs, (int(float(next_score)), next_id) if next_id else None

    def queue_depth(self, endpoint: str) -> int:
        return int(self.redis.zcount(self.keys.queued(endpoint), now_ms(), "+inf"))

    # -- both sides -----------------------------------------------------------
    def finish(
        self,
        job: Job,
        status: JobStatus,
        *,
        output: Any = _MISSING,
        error: str | None = None,
        allowed_from: Iterable[JobStatus] = (JobStatus.IN_PROGRESS,),
    ) -> bool:
        """Move a job to a terminal state; False when it was no longer in ``allowed_from``."""
        assert status.is_terminal()
        k, at = self.keys, now_ms()
        stats_field = {JobStatus.COMPLETED: "completed", JobStatus.FAILED: "failed",
                       JobStatus.TIMED_OUT: "timed_out", JobStatus.CANCELLED: "cancelled"}[status]
        has_output = output is not _MISSING
        result = self._finish(
            keys=[k.job(job.id), k.queued(job.endpoint), k.running(job.endpoint),
                  self._bucket_key(job.endpoint, at), k.stream(job.id), k.stream_cursor(job.id),
                  k.requests(job.endpoint), k.requests_expiry(job.endpoint)],
            args=[status.value, at, ",".join(s.value for s in allowed_from), int(has_output),
                  json.dumps(output) if has_output else "", error or "", stats_field,
                  self._stats_ttl_s, k.done_channel, job.id])
        if result != "OK":
            return False
        execution_ms = None if job.started_ms is None or status is JobStatus.CANCELLED \
            else at - job.started_ms
        self._observe(self.metrics.job_finished, job.endpoint, status.value, execution_ms)
        return True

    @staticmethod
    def _observe(record: Any, *args: Any) -> None:
        # Metrics follow a transition that already happened: losing one must not undo it.
        try:
            record(*args)
        except RedisError as exc:
            log.warning("metrics not recorded: %s", exc)

    def cancel(self, job: Job) -> bool:
        """Cancel a queued or running job; False when it had already ended."""
        return self.finish(job, JobStatus.CANCELLED,
                           allowed_from=(JobStatus.IN_QUEUE, JobStatus.IN_PROGRESS))

    # -- worker side -----------------------------------------------------------
    def start(self, job_id: str, endpoint: str, worker_id: str,
              hard_limit_ms: int) -> tuple[JobStatus | None, Job | None]:
        """Take a job for running: (previous status, job), or (None, None) when it is gone.

        The job only moves to IN_PROGRESS from IN_QUEUE or IN_PROGRESS (a redelivery);
        any other previous status means it must not run.
        """
        k, at = self.keys, now_ms()
        res = self._start(
            keys=[k.job(job_id), k.queued(endpoint), k.running(endpoint)],
            args=[at, worker_id, at + hard_limit_ms + RUNNING_GRACE_MS, job_id,
                  hard_limit_ms + 2 * RUNNING_GRACE_MS])
        if not res:
            return None, None
        previous, *flat = res
        job = Job.from_hash(job_id, _pairs(flat))
        if previous == JobStatus.IN_QUEUE.value:
            self._observe(self.metrics.job_started, endpoint, at - job.queued_ms)
        return JobStatus(previous), job

    def progress(self, job_id: str, value: Any) -> bool:
        """Show ``value`` as a running job's output; ignored once the job has ended."""
        return bool(self._progress(keys=[self.keys.job(job_id)], args=[json.dumps(value)]))

    def push_chunk(self, job: Job, chunk: Any, index: int) -> bool:
        """Append chunk number ``index`` of a running job; False once the job was stopped.

        Raises ChunkTooLarge, storing nothing, for a chunk over MAX_CHUNK_BYTES.
        """
        data = json.dumps(chunk)
        size = len(data.encode())
        if size > MAX_CHUNK_BYTES:
            raise ChunkTooLarge(index, size)
        k = self.keys
        return int(self._push_chunk(keys=[k.job(job.id), k.stream(job.id)],
                                    args=[data, k.chunk_channel, job.id])) > 0

    def remove(self, job: Job) -> None:
        """Delete a job past its policy.ttl, wherever it is, and wake its waiters."""
        k = self.keys
        self._remove(keys=[k.job(job.id), k.stream(job.id), k.stream_cursor(job.id),
                           k.queued(job.endpoint), k.running(job.endpoint)],
                     args=[job.id, k.done_channel])

    def status(self, job_id: str) -> JobStatus | None:
        """Only the job's state (None when it is gone): cheap enough to read on every wake-up."""
        value = self.redis.hget(self.keys.job(job_id), "status")
        return JobStatus(value) if value else None

    def chunks(self, job_id: str, start: int = 0) -> list[Any]:
        """A streaming job's chunks from index ``start`` on (the list is never consumed)."""
        return [json.loads(c) for c in self.redis.lrange(self.keys.stream(job_id), start, -1)]


__all__ = ["ChunkTooLarge", "Job", "JobStore", "JobStatus", "RETRYABLE", "new_job_id", "now_ms"]
