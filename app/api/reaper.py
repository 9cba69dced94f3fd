"""The reaper: takes back running jobs whose worker is gone, long before the broker would.

A job's message stays unacknowledged while it runs; if the whole worker (or its host) dies,
Redis would hand it out again only after the visibility timeout (a week or more). Instead,
every gateway process runs this loop; one of them per interval (a Redis lock) looks at the
endpoints' running jobs and suspects a job whose worker's heartbeat has expired, or whose
worker says it runs something else. A suspicion held for three heartbeats (so a Redis
restart, after which live workers beat again, is no false alarm) is acted on: the job's
record goes back to IN_QUEUE, and its message to the head of its queue (kombu's own restore
of the unacknowledged copy; a new one if it is neither held nor queued, as when a copy was
dropped as a duplicate). Its next run counts against JOBGATE_MAX_DELIVERIES like any other.

The gateway, not Celery beat, runs it: a beat task would wait in a queue behind the very
jobs it is meant to rescue (GPU workers run one job at a time), and would need one more
process to deploy and keep single.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import cast

from ..core.clock import now_ms
from ..core.queueing import waiting_score
from ..core.states import JobStatus
from ..core.threads import ProcessThread
from ..store import broker
from ..store.context import Context
from ..store.fleet import MISSED_BEATS, state_for
from ..store.outbox import queue_expired_webhook
from .dispatch import Dispatcher

log = logging.getLogger("jobgate.reaper")
# A job recorded this long ago whose message is nowhere was left by a gateway that died (ms).
UNSENT_GRACE_MS = 30_000
# Unsent jobs queued per lane and reaper pass.
UNSENT_BATCH = 100


@dataclass(frozen=True)
class Running:
    """A running job as its record tells: which endpoint, worker and start."""

    job_id: str
    endpoint: str
    worker_id: str
    started: str

    @property
    def mark(self) -> str:
        return f"{self.worker_id}|{self.started}"


class Reaper:
    """Finds running jobs of lost workers and puts them back in their queue."""

    def __init__(self, context: Context, dispatcher: Dispatcher):
        self.context = context
        self.settings = context.settings
        self.registry = context.registry
        self.dispatcher = dispatcher
        self.store = context.store
        self.fleet = context.fleet
        self.redis = context.redis
        self.keys = context.keys
        self._thread = ProcessThread("jobgate-reaper", self._loop)

    @property
    def interval_s(self) -> int:
        return self.settings.reaper_interval_s

    @property
    def confirm_ms(self) -> int:
        """How long a worker must look gone before its jobs are taken back."""
        return self.settings.heartbeat_s * MISSED_BEATS * 1000

    def ensure_running(self) -> None:
        """Start this process's reaper loop, once (and again in a forked child)."""
        if self.interval_s > 0:
            self._thread.ensure_started()

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval_s)
            try:
                self.run_once()
            except Exception as exc:  # Redis down: try again next interval
                log.warning("reaper pass failed: %s", exc)

    def run_once(self) -> list[str]:
        """One pass, if no other gateway process made one this interval; the ids taken back."""
        lock_ms = max(1, self.interval_s) * 1000
        if not self.redis.set(self.keys.reaper_lock(), os.getpid(), nx=True, px=lock_ms):
            return []
        self.sample_depths()
        taken = self.sweep()
        self.resend_unsent()
        self.restore_stranded()
        self.expire_queued()
        return taken

    def restore_stranded(self, at_ms: int | None = None) -> list[str]:
        """Put back the messages a worker holds but will never run; the ids restored.

        A message stays "held" (delivered, unacknowledged) when its worker lost the broker
        between taking it and running it (a Redis failover: kombu could not give it back), and
        would come back only after the visibility timeout, days later. A job still IN_QUEUE
        whose message was delivered more than UNSENT_GRACE_MS ago while a worker serving its
        endpoint stands idle is such a message: with one message prefetched per process, a
        worker that had it would be running it. Restoring one that a busy worker merely
        reserved is harmless: whichever copy starts second is refused by the job store.
        """
        at = at_ms if at_ms is not None else now_ms()
        held = broker.held_since(self.redis)
        old = [job_id for job_id, delivered_s in held.items() if delivered_s * 1000 < at - UNSENT_GRACE_MS]
        if not old:
            return []
        stranded: dict[str, int] = {}
        idle: dict[str, bool] = {}
        for job_id in old:
            job = self.store.get(job_id)
            if job is None or job.status is not JobStatus.IN_QUEUE:
                continue
            if job.endpoint not in idle:
                states = [state_for(w, job.endpoint) for w in self.fleet.workers(job.endpoint, now_ms())]
                idle[job.endpoint] = "idle" in states
            if idle[job.endpoint]:
                stranded[job_id] = at - UNSENT_GRACE_MS
        if not stranded:
            return []
        restored = sorted(broker.restore_unacked(self.settings, self.registry, stranded))
        for job_id in restored:
            log.warning("job %s: its delivered message was never run (broker lost?); back in its queue", job_id)
        return restored

    def expire_queued(self, at_ms: int | None = None) -> list[str]:
        """Remove queued jobs past their policy.ttl that asked for a webhook, and send it with
        status EXPIRED (their record outlives the ttl by EXPIRED_WEBHOOK_GRACE_MS for this);
        the ids removed. Jobs without a webhook simply expire."""
        at = at_ms if at_ms is not None else now_ms()
        removed = []
        for endpoint in self.registry:
            for job in self.store.expired_queued(endpoint.id, at):
                if job.deadline_ms > at:
                    continue
                self.store.remove(job)
                queue_expired_webhook(self.dispatcher.celery, job)
                removed.append(job.id)
        return removed

    def resend_unsent(self, at_ms: int | None = None) -> list[str]:
        """Queue the message of every job recorded but never queued (its gateway died between
        the two steps of /run); the ids sent.

        Each lane is first in first out, so a job that has waited longer than the oldest message
        of its lane cannot be behind it; if no worker holds its message either, it was never sent.
        Only jobs waiting longer than UNSENT_GRACE_MS are considered (a submission under way), at
        most UNSENT_BATCH per lane and pass: O(log n) per endpoint, plus the held messages.
        """
        at = at_ms if at_ms is not None else now_ms()
        candidates: list[str] = []
        for endpoint in self.registry:
            waiting = self.keys.waiting(endpoint.id)
            for lane, low in zip(broker.lane_lists(endpoint.queue), (False, True)):
                offset = waiting_score(0, low)
                limit = offset + at - UNSENT_GRACE_MS
                busy, oldest = broker.oldest_id(self.redis, lane)
                if busy:
                    score = cast(float | None, self.redis.zscore(waiting, oldest)) if oldest else None
                    if score is None:
                        continue  # the next message is not placed in the order: leave this lane be
                    limit = min(limit, int(score))
                candidates += cast(
                    list[str], self.redis.zrangebyscore(waiting, offset, f"({limit}", start=0, num=UNSENT_BATCH)
                )
        if not candidates:
            return []
        held = broker.held_ids(self.redis)
        sent = []
        for job_id in candidates:
            job = self.store.get(job_id)
            if job is None or job.status is not JobStatus.IN_QUEUE or job_id in held:
                continue
            # Its message goes to the back of its lane: so does its place in the waiting order
            # (and the next pass does not find it ahead of the oldest message again).
            self.redis.zadd(self.keys.waiting(job.endpoint), {job_id: waiting_score(at, job.low_priority)}, xx=True)
            self.dispatcher.send(job)
            sent.append(job_id)
            log.warning("job %s was recorded but never queued (its gateway died?); queued now", job_id)
        return sent

    def sample_depths(self) -> None:
        """Record every endpoint's queue depth for the console's plots (one pass an interval)."""
        at = now_ms()
        depths = {eid: self.store.queue_depth(eid) for eid in self.registry.ids()}
        self.context.metrics.sample_depths(depths, at)

    def sweep(self, at_ms: int | None = None) -> list[str]:
        """Update the suspects and take back those suspected long enough; the ids taken back."""
        at = at_ms if at_ms is not None else now_ms()
        running = self._running()
        holders = self.fleet.running_jobs(r.worker_id for r in running)
        suspects = [r for r in running if r.job_id not in (holders.get(r.worker_id) or ())]
        key = self.keys.reaper_suspects()
        seen = cast(dict[str, str], self.redis.hgetall(key))
        keep: dict[str, str] = {}
        due: list[Running] = []
        for r in suspects:
            mark, _, first = seen.get(r.job_id, "").rpartition("|")
            first_ms = int(first) if mark == r.mark else at
            if at - first_ms >= self.confirm_ms:
                due.append(r)
            else:
                keep[r.job_id] = f"{r.mark}|{first_ms}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(key)
        if keep:
            pipe.hset(key, mapping=keep)
            pipe.pexpire(key, self.confirm_ms + 10 * max(1, self.interval_s) * 1000)
        pipe.execute()
        return self._take_back(due) if due else []

    def _running(self) -> list[Running]:
        """Every endpoint's IN_PROGRESS jobs, from the running indexes and the records."""
        pipe = self.redis.pipeline(transaction=False)
        for endpoint in self.registry:
            pipe.zrange(self.keys.running(endpoint.id), 0, -1)
        indexed: list[tuple[str, str]] = [
            (e.id, job_id) for e, ids in zip(self.registry, pipe.execute()) for job_id in ids
        ]
        for _, job_id in indexed:
            pipe.hmget(self.keys.job(job_id), ["status", "worker", "started"])
        found = []
        for (endpoint_id, job_id), (status, worker, started) in zip(indexed, pipe.execute()):
            if status == JobStatus.IN_PROGRESS.value and worker and started:
                found.append(Running(job_id, endpoint_id, worker, started))
        return found

    def _take_back(self, lost: list[Running]) -> list[str]:
        # Message first, record second: if the record update fails, the next pass sees the
        # job still running on a lost worker and tries again.
        restored = broker.restore_unacked(self.settings, self.registry, {r.job_id: int(r.started) for r in lost})
        queued: dict[str, set[str]] = {}
        taken = []
        for r in lost:
            if not self.store.requeue(r.job_id, r.endpoint, r.worker_id, r.started):
                continue  # started again elsewhere, or ended, meanwhile
            taken.append(r.job_id)
            if r.endpoint not in queued:
                queued[r.endpoint] = broker.queued_ids(self.redis, self.registry[r.endpoint].queue)
            if r.job_id in restored:
                how = "message restored"
            elif r.job_id in queued[r.endpoint]:
                how = "message already queued"
            else:
                # Neither held nor queued (dropped as a duplicate, or lost with Redis's last
                # second): send it again. A copy that turns up after all is refused by START.
                job = self.store.get(r.job_id)
                if job is not None:
                    self.dispatcher.send(job)
                how = "message sent again"
            log.warning("job %s: worker %s is gone; back in the %s queue (%s)", r.job_id, r.worker_id, r.endpoint, how)
        return taken
