"""The job store: every job's state lives here, in Redis, and changes only here."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any, cast

from redis import Redis
from redis.exceptions import RedisError

from ..core.clock import now_ms
from ..core.job import MISSING, Job, new_job_id
from ..core.queueing import LOW_LANE_SCORE, QueuePlace, waiting_score
from ..core.settings import Settings
from ..core.states import JobStatus
from ..core.strictjson import JSONLimits, dump, ensure_headroom
from ..core.tombstone import Tombstone, endpoint_tag
from .keys import Keys
from .metrics import TIMELINE_WINDOW_S, JobMetrics
from .scripts import Scripts

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
# Expired /requests index entries dropped per job created: more than one keeps the index from growing.
PRUNE_ON_CREATE = 20
# ... and per /requests call.
PRUNE_ON_LIST = 1000
# Times a purge re-reads the queue when jobs arrive or start while it reads.
PURGE_ATTEMPTS = 5
# How long a queued job with a webhook keeps its record past its ttl, for the reaper (which
# passes every JOBGATE_REAPER_INTERVAL_S) to remove it and send its EXPIRED webhook (ms).
EXPIRED_WEBHOOK_GRACE_MS = 60_000
# Entries of jobs past their ttl dropped from the waiting order per /status of a queued job.
PRUNE_ON_POSITION = 100
# How long /run waits for JOBGATE_REDIS_MIN_REPLICAS replicas to hold a new job (ms).
REPLICA_WAIT_MS = 1000
log = logging.getLogger(__name__)


class ChunkTooLarge(ValueError):
    """A streamed chunk over MAX_CHUNK_BYTES: refused, nothing of it is stored."""

    def __init__(self, index: int, size: int):
        super().__init__(
            f"stream chunk {index} is {size} bytes as JSON; a chunk may be at most {MAX_CHUNK_BYTES} bytes (1 MB)"
        )


def _pairs(h: list[str]) -> dict[str, str]:
    return dict(zip(h[::2], h[1::2]))


def _before(position: tuple[int, str], cursor: tuple[int, str]) -> bool:
    """Whether ``position`` comes after ``cursor`` in a newest-first listing (as Redis orders
    equal scores: by member, descending)."""
    return position[0] < cursor[0] or (position[0] == cursor[0] and position[1] < cursor[1])


class NotStarted(Exception):
    """A delivered job that must not run: ``reason`` is RUNNING (its worker is alive and still
    running it: a duplicate delivery) or EXHAUSTED (it has had its bound of runs)."""

    def __init__(self, reason: str, job: Job):
        super().__init__(f"job {job.id} not started: {reason}")
        self.reason = reason
        self.job = job


class JobStore:
    """Reads and changes job records; all writes are atomic scripts with expiries."""

    def __init__(self, redis: Redis, settings: Settings):
        if redis is None:
            raise ValueError("JobStore needs a Redis connection")
        self.redis = redis
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.scripts = Scripts(redis)
        # Every value is written as strict JSON (no NaN, bounded depth): what /status serves.
        self.json_limits = JSONLimits(max_depth=settings.json_max_depth)
        # Records as deep as the limit must also read back (json recurses once per level).
        ensure_headroom(self.json_limits)
        self.metrics = JobMetrics(redis, self.keys)

    @property
    def _tomb_keep_ms(self) -> int:
        return self.settings.tombstone_ttl_s * 1000

    def queue_place(self, endpoint: str, job_id: str) -> QueuePlace:
        """Where a queued job stands in its endpoint's waiting order (O(log n) in Redis)."""
        k = self.keys
        rank, normal, waiting = self.scripts["queue_position"](
            keys=[k.waiting(endpoint), k.queued(endpoint)],
            args=[job_id, now_ms(), PRUNE_ON_POSITION, LOW_LANE_SCORE, EXPIRED_WEBHOOK_GRACE_MS],
        )
        return QueuePlace(None if rank is None else int(rank) + 1, int(normal), int(waiting))

    def expired_queued(self, endpoint: str, at_ms: int, limit: int = 100) -> list[Job]:
        """Queued jobs of ``endpoint`` past their ttl whose record is still here (those with a
        webhook, for EXPIRED_WEBHOOK_GRACE_MS); ids whose record is gone leave the index."""
        k = self.keys
        ids = cast(list[str], self.redis.zrangebyscore(k.queued(endpoint), "-inf", at_ms, start=0, num=limit))
        jobs, gone = [], []
        for job_id in ids:
            job = self.get(job_id)
            if job is not None and job.status is JobStatus.IN_QUEUE:
                jobs.append(job)
            elif job is None:
                gone.append(job_id)
        if gone:
            self.redis.zrem(k.queued(endpoint), *gone)
        return jobs

    def gone(self, endpoint: str, job_id: str) -> Tombstone | None:
        """Why and when a job that is no longer here went, while its tombstone lasts."""
        return Tombstone.decode(cast(str | None, self.redis.get(self.keys.tombstone(job_id))), endpoint, now_ms())

    # -- stats buckets -----------------------------------------------------
    def _bucket_key(self, endpoint: str, at_ms: int) -> str:
        return self.keys.stats(endpoint, at_ms // 1000 // STATS_BUCKET_S)

    @property
    def _stats_ttl_s(self) -> int:
        # /health's window, and at least the console's 30 minutes of plots (app/store/timeline.py).
        return max(self.settings.health_window_s, TIMELINE_WINDOW_S) + 2 * STATS_BUCKET_S

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
        job_id: str | None = None,
    ) -> Job:
        """Record a new job as IN_QUEUE (before it is sent to Celery); ``job_id``: one chosen
        beforehand (an idempotency key claimed it), else a new one."""
        job_id = job_id or new_job_id(sync)
        at = now_ms()
        ttl = ttl_ms or self.settings.job_ttl_ms
        retention_s = self.settings.result_ttl_sync_s if sync else self.settings.result_ttl_async_s
        job = Job(
            id=job_id,
            endpoint=endpoint,
            status=JobStatus.IN_QUEUE,
            input=job_input,
            created_ms=at,
            queued_ms=at,
            mode="sync" if sync else "async",
            webhook=webhook,
            execution_timeout_ms=execution_timeout_ms,
            ttl_ms=ttl,
            retention_ms=retention_s * 1000,
            low_priority=low_priority,
            extra=extra or {},
        )
        fields: dict[str, Any] = {
            "endpoint": endpoint,
            "status": job.status.value,
            "input": dump(job_input, root="input", limits=self.json_limits),
            "created": at,
            "queued": at,
            "mode": job.mode,
            "retries": 0,
            "deliveries": 0,
            "execution_timeout_ms": execution_timeout_ms,
            "ttl_ms": ttl,
            "retention_ms": job.retention_ms,
            "low_priority": int(low_priority),
        }
        if webhook:
            fields["webhook"] = webhook
        if extra:
            fields["extra"] = dump(extra, root="extra", limits=self.json_limits)
        flat = [x for kv in fields.items() for x in kv]
        k = self.keys
        self.scripts["create"](
            keys=[
                k.job(job_id),
                k.queued(endpoint),
                k.requests(endpoint),
                k.requests_expiry(endpoint),
                k.tombstone(job_id),
                k.waiting(endpoint),
            ],
            args=[
                # A job with a webhook keeps its record a while past its ttl, for the reaper to
                # send it EXPIRED (see expired_queued); its deadline stays at + ttl.
                ttl + EXPIRED_WEBHOOK_GRACE_MS if webhook else ttl,
                at + ttl,
                job_id,
                at,
                PRUNE_ON_CREATE,
                self._tomb_keep_ms,
                endpoint_tag(endpoint),
                waiting_score(at, low_priority),
                *flat,
            ],
        )
        return job

    def replicate(self, job_id: str, replicas: int, timeout_ms: int = REPLICA_WAIT_MS) -> int:
        """Wait until ``replicas`` replicas hold everything written so far; how many do.

        WAIT counts from the last write of the connection it is sent on, and the job's
        message went out on kombu's: a PUBLISH first (propagated like any write) moves that
        mark past every write before it, on any connection, since replication is one stream.
        """
        pipe = self.redis.pipeline(transaction=False)
        pipe.publish(self.keys.replicated_channel, job_id)
        pipe.execute_command("WAIT", replicas, timeout_ms)
        return int(pipe.execute()[-1])

    def get(self, job_id: str) -> Job | None:
        """The job, or None when it is unknown, purged or expired."""
        h = cast(dict[str, str], self.redis.hgetall(self.keys.job(job_id)))
        return Job.from_hash(job_id, h) if h else None

    def set_retention(self, job: Job, retention_ms: int) -> bool:
        """Keep the job ``retention_ms`` from now if it has ended, else from when it ends."""
        k = self.keys
        return bool(
            self.scripts["retain"](
                keys=[
                    k.job(job.id),
                    k.stream(job.id),
                    k.stream_cursor(job.id),
                    k.requests(job.endpoint),
                    k.requests_expiry(job.endpoint),
                    k.tombstone(job.id),
                ],
                args=[retention_ms, now_ms(), job.id, self._tomb_keep_ms, endpoint_tag(job.endpoint)],
            )
        )

    def retry(self, job: Job) -> str | None:
        """Put a FAILED or TIMED_OUT job back to IN_QUEUE; returns 'OK' or the blocking status."""
        k, at = self.keys, now_ms()
        return self.scripts["retry"](
            keys=[
                k.job(job.id),
                k.queued(job.endpoint),
                self._bucket_key(job.endpoint, at),
                k.stream(job.id),
                k.stream_cursor(job.id),
                k.requests(job.endpoint),
                k.requests_expiry(job.endpoint),
                k.tombstone(job.id),
                k.waiting(job.endpoint),
            ],
            args=[
                at,
                job.id,
                self._stats_ttl_s,
                self._tomb_keep_ms,
                endpoint_tag(job.endpoint),
                waiting_score(0, job.low_priority),
                EXPIRED_WEBHOOK_GRACE_MS,
            ],
        )

    def purge(self, endpoint: str, broker_lists: Iterable[str]) -> int:
        """Remove every queued job of the endpoint (records and broker messages) atomically.

        Every key the script removes is named in its KEYS, so the queued ids are read first;
        the script refuses (and the ids are read again) when they changed in between.
        """
        k, lanes = self.keys, list(broker_lists)
        for _ in range(PURGE_ATTEMPTS):
            ids = cast(list[str], self.redis.zrange(k.queued(endpoint), 0, -1))
            job_keys = [key for job_id in ids for key in (k.job(job_id), k.stream(job_id), k.tombstone(job_id))]
            removed = int(
                self.scripts["purge"](
                    keys=[
                        k.queued(endpoint),
                        k.requests(endpoint),
                        k.requests_expiry(endpoint),
                        k.waiting(endpoint),
                        *lanes,
                        *job_keys,
                    ],
                    args=[now_ms(), len(lanes), self._tomb_keep_ms, endpoint_tag(endpoint), *ids],
                )
            )
            if removed >= 0:
                return removed
        raise RedisError(f"the queue of {endpoint!r} kept changing; purge not done, try again")

    def read_stream(
        self, job_id: str, *, take: bool = True, start: int = 0, limit: int = STREAM_READ_LIMIT
    ) -> tuple[JobStatus, int, list[Any]] | None:
        """The job's status, the index of the first chunk read, and the chunks; None when the
        job is gone.

        ``take`` hands out the chunks after the deliver-once cursor and moves it; otherwise
        the chunks from index ``start`` are read and nothing moves. Either way the chunks of an
        interrupted run are skipped (the first index is then past them).
        """
        k = self.keys
        res = self.scripts["read_stream"](
            keys=[k.job(job_id), k.stream(job_id), k.stream_cursor(job_id)],
            args=["take" if take else "peek", start, limit],
        )
        if not res:
            return None
        status, first, *chunks = res
        return JobStatus(status), int(first), [json.loads(c) for c in chunks]

    def set_webhook_status(self, job_id: str, outcome: str, finished_ms: int) -> bool:
        """Record a webhook delivery outcome on the run that ended at ``finished_ms``."""
        return bool(self.scripts["webhook_status"](keys=[self.keys.job(job_id)], args=[outcome, finished_ms]))

    def counts(self, endpoint: str) -> dict[str, int]:
        """Current queue and running counts, and jobs ended in the health window."""
        at = now_ms()
        k = self.keys
        first = (at - self.settings.health_window_s * 1000) // 1000 // STATS_BUCKET_S
        last = at // 1000 // STATS_BUCKET_S
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(k.queued(endpoint), "-inf", at - EXPIRED_WEBHOOK_GRACE_MS)
        pipe.zcount(k.queued(endpoint), at, "+inf")
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

        Only timings, worker and retries are read (no input or output); index entries whose
        record has expired are dropped on the way. The position to go on from is None when the
        listing has ended. At most LIST_SCAN_BUDGET entries are examined per call.
        """
        k, at = self.keys, now_ms()
        index, expiry = k.requests(endpoint), k.requests_expiry(endpoint)
        expired = cast(list[str], self.redis.zrangebyscore(expiry, "-inf", at, start=0, num=PRUNE_ON_LIST))
        if expired:
            self.redis.zrem(index, *expired)
            self.redis.zrem(expiry, *expired)
        wanted = {s.value for s in statuses}
        top: int | str = after[0] if after else "+inf"
        jobs: list[Job] = []
        last: tuple[int, str] | None = None
        gone: list[str] = []
        offset, scanned, batch = 0, 0, max(limit + 1, 100)
        try:
            while True:
                raw = self.redis.zrevrangebyscore(index, top, "-inf", start=offset, num=batch, withscores=True)
                offset += len(raw)
                page = [
                    (job_id, int(score))
                    for job_id, score in raw
                    if after is None or _before((int(score), job_id), after)
                ]
                pipe = self.redis.pipeline(transaction=False)
                for job_id, _ in page:
                    pipe.hmget(k.job(job_id), list(_LIST_FIELDS))
                for (job_id, score), values in zip(page, pipe.execute() if page else []):
                    scanned += 1
                    if values[0] is None:
                        gone.append(job_id)
                    elif not wanted or values[0] in wanted:
                        if len(jobs) == limit:
                            return jobs, last
                        fields = {name: v for name, v in zip(_LIST_FIELDS, values) if v is not None}
                        jobs.append(Job.from_hash(job_id, {"endpoint": endpoint, **fields}))
                        last = (score, job_id)  # the cursor is a place in the index, not the record
                    if scanned >= LIST_SCAN_BUDGET:
                        return jobs, (score, job_id)  # out of budget: the caller goes on from here
                if len(raw) < batch:
                    return jobs, None
        finally:
            if gone:
                self.redis.zrem(index, *gone)
                self.redis.zrem(expiry, *gone)

    def queue_depth(self, endpoint: str) -> int:
        return cast(int, self.redis.zcount(self.keys.queued(endpoint), now_ms(), "+inf"))

    # -- both sides -----------------------------------------------------------
    def finish(
        self,
        job: Job,
        status: JobStatus,
        *,
        output: Any = MISSING,
        error: str | None = None,
        allowed_from: Iterable[JobStatus] = (JobStatus.IN_PROGRESS,),
    ) -> bool:
        """Move a job to a terminal state; False when it was no longer in ``allowed_from``."""
        assert status.is_terminal()
        k, at = self.keys, now_ms()
        stats_field = {
            JobStatus.COMPLETED: "completed",
            JobStatus.FAILED: "failed",
            JobStatus.TIMED_OUT: "timed_out",
            JobStatus.CANCELLED: "cancelled",
        }[status]
        has_output = output is not MISSING
        result = self.scripts["finish"](
            keys=[
                k.job(job.id),
                k.queued(job.endpoint),
                k.running(job.endpoint),
                self._bucket_key(job.endpoint, at),
                k.stream(job.id),
                k.stream_cursor(job.id),
                k.requests(job.endpoint),
                k.requests_expiry(job.endpoint),
                k.tombstone(job.id),
                k.waiting(job.endpoint),
            ],
            args=[
                status.value,
                at,
                ",".join(s.value for s in allowed_from),
                int(has_output),
                dump(output, root="output", limits=self.json_limits) if has_output else "",
                error or "",
                stats_field,
                self._stats_ttl_s,
                k.done_channel,
                job.id,
                self._tomb_keep_ms,
                endpoint_tag(job.endpoint),
            ],
        )
        if result != "OK":
            return False
        execution_ms = None if job.started_ms is None or status is JobStatus.CANCELLED else at - job.started_ms
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
        return self.finish(job, JobStatus.CANCELLED, allowed_from=(JobStatus.IN_QUEUE, JobStatus.IN_PROGRESS))

    # -- worker side -----------------------------------------------------------
    def start(
        self, job_id: str, endpoint: str, worker_id: str, hard_limit_ms: int, max_deliveries: int = 0
    ) -> tuple[JobStatus | None, Job | None]:
        """Take a job for running: (previous status, job), or (None, None) when it is gone.

        The job only moves to IN_PROGRESS from IN_QUEUE or IN_PROGRESS (a redelivery);
        any other previous status means it must not run. Raises NotStarted when its worker
        still runs it, or when it has been started ``max_deliveries`` times (0: no bound).
        """
        k, at = self.keys, now_ms()
        holder = ""
        while True:
            res = self.scripts["start"](
                keys=[
                    k.job(job_id),
                    k.queued(endpoint),
                    k.running(endpoint),
                    k.worker(holder),
                    k.waiting(endpoint),
                    k.stream(job_id),
                ],
                args=[
                    at,
                    worker_id,
                    at + hard_limit_ms + RUNNING_GRACE_MS,
                    job_id,
                    hard_limit_ms + 2 * RUNNING_GRACE_MS,
                    max_deliveries,
                    holder,
                ],
            )
            if not res or res[0] != "HELD":
                break
            # Recorded as running elsewhere: ask again, naming that worker's heartbeat key.
            holder = _pairs(res[1:]).get("worker", "")
        if not res:
            return None, None
        previous, *flat = res
        job = Job.from_hash(job_id, _pairs(flat))
        if previous in ("RUNNING", "EXHAUSTED"):
            raise NotStarted(previous, job)
        if previous == JobStatus.IN_QUEUE.value:
            self._observe(self.metrics.job_started, endpoint, at - job.queued_ms)
        elif previous == JobStatus.IN_PROGRESS.value:
            # Delivered again while recorded as running: its previous run was lost with its worker.
            self._observe(self.metrics.run_lost, endpoint)
        return JobStatus(previous), job

    def progress(self, job_id: str, value: Any) -> bool:
        """Show ``value`` as a running job's output; ignored once the job has ended."""
        k = self.keys
        text = dump(value, root="progress", limits=self.json_limits)
        return bool(self.scripts["progress"](keys=[k.job(job_id)], args=[text, k.progress_channel, job_id]))

    def push_chunk(self, job: Job, chunk: Any, index: int) -> bool:
        """Append chunk number ``index`` of a running job; False once the job was stopped.

        Raises ChunkTooLarge, storing nothing, for a chunk over MAX_CHUNK_BYTES, and
        JSONRefused for one that is not strict JSON (a RawJSON chunk was checked already).
        """
        data = dump(chunk, root=f"chunk[{index}]", limits=self.json_limits)
        size = len(data.encode())
        if size > MAX_CHUNK_BYTES:
            raise ChunkTooLarge(index, size)
        k = self.keys
        return (
            int(
                self.scripts["push_chunk"](keys=[k.job(job.id), k.stream(job.id)], args=[data, k.chunk_channel, job.id])
            )
            > 0
        )

    def remove(self, job: Job) -> None:
        """Delete a job past its policy.ttl, wherever it is, and wake its waiters."""
        k = self.keys
        self.scripts["remove"](
            keys=[
                k.job(job.id),
                k.stream(job.id),
                k.stream_cursor(job.id),
                k.queued(job.endpoint),
                k.running(job.endpoint),
                k.tombstone(job.id),
                k.waiting(job.endpoint),
            ],
            args=[job.id, k.done_channel, now_ms(), self._tomb_keep_ms, endpoint_tag(job.endpoint)],
        )

    def requeue(self, job_id: str, endpoint: str, worker_id: str, started_ms: str) -> bool:
        """Put a job back to IN_QUEUE after its worker was lost (only if it is still
        IN_PROGRESS on ``worker_id`` since ``started_ms``); False when it was not."""
        k = self.keys
        return (
            self.scripts["requeue"](
                keys=[k.job(job_id), k.queued(endpoint), k.running(endpoint), k.waiting(endpoint)],
                args=[job_id, worker_id, started_ms, now_ms(), LOW_LANE_SCORE],
            )
            == "OK"
        )
