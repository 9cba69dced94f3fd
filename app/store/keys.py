"""Redis key names: every key jobgate writes is named here, under one prefix."""

from __future__ import annotations

import hashlib


class Keys:
    """Key and channel names under ``prefix``."""

    def __init__(self, prefix: str = "jg"):
        self.prefix = prefix
        self.done_channel = f"{prefix}:done"
        # Pub/sub: a job id, published each time a streaming job appends a chunk.
        self.chunk_channel = f"{prefix}:chunk"
        # Pub/sub: a job id, published each time a running job reports progress.
        self.progress_channel = f"{prefix}:progress"
        # Pub/sub: a job id, published (and so replicated) right before WAIT counts its replicas.
        self.replicated_channel = f"{prefix}:replicated"

    def job(self, job_id: str) -> str:
        """Hash: one job's record (state, input, output, timings)."""
        return f"{self.prefix}:job:{job_id}"

    def idempotency(self, scope: str, endpoint: str, key: str) -> str:
        """String: the job an Idempotency-Key names, per API key (``scope``) and endpoint; the
        client's key is hashed, so any string up to 255 characters makes a short key name."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{self.prefix}:idem:{scope}:{endpoint}:{digest}"

    def tombstone(self, job_id: str) -> str:
        """String: an integer saying why and when the job's record goes, and of which endpoint
        (see app.core.tombstone); it outlives the record by JOBGATE_TOMBSTONE_TTL_S."""
        return f"{self.prefix}:gone:{job_id}"

    def stream(self, job_id: str) -> str:
        """List: a generator job's chunks, in order."""
        return f"{self.prefix}:stream:{job_id}"

    def stream_cursor(self, job_id: str) -> str:
        """String: how many chunks /stream has handed out."""
        return f"{self.prefix}:cursor:{job_id}"

    def requests(self, endpoint: str) -> str:
        """Sorted set: the endpoint's job ids scored by creation time (ms), for /requests."""
        return f"{self.prefix}:requests:{endpoint}"

    def requests_expiry(self, endpoint: str) -> str:
        """Sorted set: the same job ids scored by when their record expires (ms), for pruning."""
        return f"{self.prefix}:requests-expiry:{endpoint}"

    def queued(self, endpoint: str) -> str:
        """Sorted set: the endpoint's queued job ids, scored by their deadline (ms)."""
        return f"{self.prefix}:queued:{endpoint}"

    def waiting(self, endpoint: str) -> str:
        """Sorted set: the endpoint's queued job ids in the order workers take them (normal lane by
        time queued, then the low lane; see app.core.queueing), for a job's queue position."""
        return f"{self.prefix}:waiting:{endpoint}"

    def running(self, endpoint: str) -> str:
        """Sorted set: the endpoint's running job ids, scored by when they must have ended (ms)."""
        return f"{self.prefix}:running:{endpoint}"

    def stats(self, endpoint: str, bucket: int) -> str:
        """Hash: counts of jobs that ended (or were retried) in one time bucket."""
        return f"{self.prefix}:stats:{endpoint}:{bucket}"

    def workers(self, endpoint: str) -> str:
        """Sorted set: worker ids serving the endpoint, scored by last heartbeat (ms)."""
        return f"{self.prefix}:workers:{endpoint}"

    def worker(self, worker_id: str) -> str:
        """Hash: one worker's heartbeat (state, current job, host, GPU)."""
        return f"{self.prefix}:worker:{worker_id}"

    @property
    def rate_limits(self) -> str:
        """Prefix of the `limits` library's moving-window lists (one per endpoint and operation)."""
        return f"{self.prefix}:rate"

    def in_flight(self, endpoint: str, operation: str) -> str:
        """Sorted set: tokens of requests in progress, scored by when their slot lapses (ms)."""
        return f"{self.prefix}:inflight:{endpoint}:{operation}"

    def api_key(self, key_id: str) -> str:
        """Hash: one stored API key (its SHA-256, scopes). Expires only if created with an expiry."""
        return f"{self.prefix}:apikey:{key_id}"

    def timeline(self, endpoint: str, minute: int) -> str:
        """Hash: one minute of an endpoint's delay and execution histograms and queue depth (console plots)."""
        return f"{self.prefix}:timeline:{endpoint}:{minute}"

    def metrics(self, endpoint: str) -> str:
        """Hash: an endpoint's monotonic counters and histogram buckets for /metrics."""
        return f"{self.prefix}:metrics:{endpoint}"

    def reaper_lock(self) -> str:
        """String: held by the gateway process doing this interval's reaper pass."""
        return f"{self.prefix}:reaper:lock"

    def reaper_suspects(self) -> str:
        """Hash: running jobs whose worker looked gone, with when that was first seen."""
        return f"{self.prefix}:reaper:suspects"
