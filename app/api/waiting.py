"""Waiting for a job: one Redis pub/sub listener per process wakes every waiting request.

Every terminal transition publishes the job id on one channel, and every streamed chunk on
another. Each gateway process keeps a single subscriber thread (a greenlet under gevent), so
a thousand waiting /runsync calls or stream followers cost one Redis connection and no
polling. On top of it: waiting for a job's end (/runsync, /status-sync, the OpenAI routes)
and following a job's chunks (/stream's events and the OpenAI relay).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..core.errors import JobNotFound
from ..core.job import Job
from ..core.states import JobStatus
from ..core.threads import ProcessThread
from ..store.jobstore import STREAM_READ_LIMIT, JobStore

log = logging.getLogger(__name__)
# With no news for this long a follower yields an empty update (a chance to send a
# keep-alive, and a re-read in case a job vanished without any event, e.g. expired).
IDLE_S = 15.0


class CompletionWaiter:
    """Lets a request sleep until a given job id is published on any of ``channels``."""

    def __init__(self, redis: Redis, *channels: str):
        if not channels:
            raise ValueError("CompletionWaiter needs at least one channel")
        self.redis = redis
        self.channels = channels
        self._lock = threading.Lock()
        self._events: dict[str, set[threading.Event]] = {}
        self._subscribed = threading.Event()
        # A forked process (gunicorn worker) starts its own listener.
        self._listener = ProcessThread("jobgate-waiter", self._listen)

    def _ensure_listener(self) -> None:
        if self._listener.ensure_started():
            # Jobs that end before the subscription exists are caught by the waiters' re-read.
            self._subscribed.wait(5)

    def _wake_all(self) -> None:
        with self._lock:
            for events in self._events.values():
                for ev in events:
                    ev.set()

    def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                pubsub.subscribe(*self.channels)
                for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        if message["data"] == len(self.channels):
                            self._subscribed.set()
                        # Anything published while we were not listening was missed:
                        # let every waiter re-read its job.
                        self._wake_all()
                    elif message["type"] == "message":
                        self._wake(message["data"])
            except Exception as exc:  # connection lost: resubscribe, waiters re-check
                log.warning("completion listener lost Redis (%s); reconnecting", exc)
                self._subscribed.clear()
                self._wake_all()
                time.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()

    def _wake(self, job_id: str | bytes) -> None:
        if isinstance(job_id, bytes):
            job_id = job_id.decode()
        with self._lock:
            for ev in self._events.get(job_id, ()):
                ev.set()

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[threading.Event]:
        """An event set whenever ``job_id`` may have ended or streamed a chunk."""
        self._ensure_listener()
        ev = threading.Event()
        with self._lock:
            self._events.setdefault(job_id, set()).add(ev)
        try:
            yield ev
        finally:
            with self._lock:
                waiting = self._events.get(job_id)
                if waiting is not None:
                    waiting.discard(ev)
                    if not waiting:
                        del self._events[job_id]


def wait_for_end(store: JobStore, waiter: CompletionWaiter, job_id: str, wait_ms: int) -> Job:
    """The job once it has ended, or as it is when ``wait_ms`` has passed; JobNotFound once gone."""
    deadline = time.monotonic() + wait_ms / 1000
    with waiter.watch(job_id) as changed:
        while True:
            try:
                job = store.get(job_id)
            except (RedisConnectionError, RedisTimeoutError):
                # Redis is restarting: hold the caller (the job runs on) until the wait ends.
                if time.monotonic() >= deadline:
                    raise
                changed.wait(min(1.0, deadline - time.monotonic()))
                continue
            if job is None:
                raise JobNotFound(job_id)
            remaining = deadline - time.monotonic()
            if job.status.is_terminal() or remaining <= 0:
                return job
            changed.wait(remaining)
            changed.clear()


@dataclass
class Update:
    """New chunks in order, and the job's state when they were read (None once it is gone)."""

    chunks: list[Any] = field(default_factory=list)
    status: JobStatus | None = None
    # Index of the first chunk in ``chunks``.
    start: int = 0
    # Whether more chunks were already waiting behind these (a read is capped).
    more: bool = False

    @property
    def ended(self) -> bool:
        """Whether nothing more will come: the job has ended (and this holds its last chunks) or is gone."""
        return not self.more and (self.status is None or self.status.is_terminal())


def follow_chunks(
    store: JobStore, waiter: CompletionWaiter, job_id: str, start: int = 0, idle_s: float = IDLE_S
) -> Generator[Update, None, None]:
    """Yield each batch of new chunks of ``job_id`` from index ``start``; the last update has
    ``ended`` true. Several followers may read one job: nothing is consumed.

    Built on the store's atomic read of state and chunks, so the update that says the job
    ended carries every chunk it produced.
    """
    position = start
    with waiter.watch(job_id) as changed:
        while True:
            changed.clear()
            read = store.read_stream(job_id, take=False, start=position)
            status, position, chunks = read if read is not None else (None, position, [])
            update = Update(chunks, status, position, more=len(chunks) >= STREAM_READ_LIMIT)
            position += len(chunks)
            if chunks or update.ended:
                yield update
                if update.ended:
                    return
                continue
            if not changed.wait(idle_s):
                yield update
