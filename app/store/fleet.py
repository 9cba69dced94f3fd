"""The worker fleet as seen through heartbeats kept in Redis (no broadcast inspect)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

from redis import Redis

from .keys import Keys

WORKER_STATES = ("idle", "initializing", "ready", "running", "throttled", "unhealthy")
# A worker that missed this many heartbeats is gone.
MISSED_BEATS = 3


class Fleet:
    """Writes and reads worker heartbeats."""

    def __init__(self, redis: Redis, keys: Keys, heartbeat_s: int):
        self.redis = redis
        self.keys = keys
        self.heartbeat_s = heartbeat_s

    @property
    def ttl_s(self) -> int:
        return self.heartbeat_s * MISSED_BEATS

    def beat(self, worker_id: str, endpoints: Iterable[str], at_ms: int, **info: Any) -> None:
        """Record that a worker is alive, with what it is doing."""
        key = self.keys.worker(worker_id)
        fields = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in info.items() if v is not None}
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping={"last": at_ms, "endpoints": ",".join(endpoints), **fields})
        pipe.expire(key, self.ttl_s)
        for eid in endpoints:
            zkey = self.keys.workers(eid)
            pipe.zadd(zkey, {worker_id: at_ms})
            pipe.zremrangebyscore(zkey, "-inf", at_ms - self.ttl_s * 1000)
            pipe.expire(zkey, self.ttl_s)
        pipe.execute()

    def set_state(self, worker_id: str, state: str, broken: str = "", **jobs: Any) -> None:
        """Change a live worker's state and its jobs (``job_fields``) between heartbeats."""
        key = self.keys.worker(worker_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping={"state": state, "broken": broken, **jobs})
        pipe.expire(key, self.ttl_s)
        pipe.execute()

    def gone(self, worker_id: str, endpoints: Iterable[str]) -> None:
        """Forget a worker that shut down cleanly."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.keys.worker(worker_id))
        for eid in endpoints:
            pipe.zrem(self.keys.workers(eid), worker_id)
        pipe.execute()

    def running_jobs(self, worker_ids: Iterable[str]) -> dict[str, frozenset[str] | None]:
        """The jobs each worker says it runs (empty when idle), or None when its heartbeat is gone."""
        ids = list(dict.fromkeys(worker_ids))
        pipe = self.redis.pipeline(transaction=False)
        for wid in ids:
            pipe.hmget(self.keys.worker(wid), ["jobs", "job", "state"])
        return {
            wid: _split(jobs if jobs is not None else job) if state is not None else None
            for wid, (jobs, job, state) in zip(ids, pipe.execute())
        }

    def workers(self, endpoint: str, at_ms: int) -> list[dict[str, str]]:
        """Live workers of an endpoint, each as its heartbeat hash plus ``id``."""
        ids: list[str] = cast(
            list[str], self.redis.zrangebyscore(self.keys.workers(endpoint), at_ms - self.ttl_s * 1000, "+inf")
        )
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for wid in ids:
            pipe.hgetall(self.keys.worker(wid))
        return [{"id": wid, **h} for wid, h in zip(ids, pipe.execute()) if h]

    def counts(self, endpoint: str, at_ms: int) -> dict[str, int]:
        """Workers by state, in the shape of RunPod's /health.

        initializing: loading handlers; idle: waiting for a job; running: running one of this
        endpoint's jobs; throttled: busy with another endpoint's job, so unable to take this
        endpoint's work now; unhealthy: this endpoint's handler failed to load there. ready is
        always 0: a jobgate worker takes jobs as soon as it is initialized (it is idle then).
        A dead worker stops beating and drops out after MISSED_BEATS intervals.
        """
        counts = dict.fromkeys(WORKER_STATES, 0)
        for w in self.workers(endpoint, at_ms):
            counts[state_for(w, endpoint)] += 1
        return counts

    def details(self, endpoint: str, at_ms: int) -> list[dict[str, Any]]:
        """Live workers of an endpoint as ``GET /v2/<id>/workers`` lists them."""
        return [
            {
                "id": w["id"],
                "node": w.get("node"),
                "host": w.get("host"),
                "pid": int(w["pid"]) if w.get("pid") else None,
                "state": state_for(w, endpoint),
                "jobId": w.get("job") or None,
                "jobs": sorted(jobs_of(w)),
                "maxConcurrency": int(w.get("max_concurrency") or 1),
                "gpu": json.loads(w["gpu"]) if w.get("gpu") else None,
                "lastHeartbeat": int(w.get("last") or 0),
                "metricsPort": int(w.get("metrics_port") or 0) or None,
            }
            for w in sorted(self.workers(endpoint, at_ms), key=lambda w: w["id"])
        ]


def job_fields(jobs: Mapping[str, str], max_concurrency: int) -> dict[str, Any]:
    """The heartbeat fields that say which jobs (id -> endpoint) a worker runs, of how many slots."""
    first = next(iter(jobs), "")
    return {
        "job": first,
        "job_endpoint": jobs.get(first, ""),
        "jobs": ",".join(jobs),
        "job_endpoints": ",".join(sorted(set(jobs.values()))),
        "max_concurrency": max_concurrency,
    }


def _split(raw: str | None) -> frozenset[str]:
    return frozenset(p for p in (raw or "").split(",") if p)


def jobs_of(worker: Mapping[str, str]) -> frozenset[str]:
    """The ids of the jobs a worker's heartbeat says it runs."""
    return _split(worker["jobs"] if "jobs" in worker else worker.get("job"))


def state_for(worker: Mapping[str, str], endpoint: str) -> str:
    """A worker's state for one endpoint, one of WORKER_STATES.

    running: it runs at least one job of this endpoint (also when it has free slots left);
    throttled: it runs only other endpoints' jobs and has no free slot; idle otherwise.
    """
    # A process whose handler for this endpoint failed to import is unhealthy for it.
    if endpoint in worker.get("broken", "").split(","):
        return "unhealthy"
    state = worker.get("state", "idle")
    if state == "running":
        endpoints = _split(worker.get("job_endpoints") or worker.get("job_endpoint"))
        if endpoints and endpoint not in endpoints:
            # Busy with other endpoints' jobs: it can take this endpoint's work only in a free slot.
            full = len(jobs_of(worker)) >= int(worker.get("max_concurrency") or 1)
            return "throttled" if full else "idle"
    return state if state in WORKER_STATES else "unhealthy"
