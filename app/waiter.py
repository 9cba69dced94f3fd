"""Wake waiting requests when a job changes, through one Redis pub/sub listener per process.

Every terminal transition publishes the job id on one channel, and every streamed
chunk on another. Each gateway process keeps a single subscriber thread (a greenlet
under gevent), so a thousand waiting /runsync calls or stream relays cost one Redis
connection and no polling.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from typing import Iterator

from redis import Redis

log = logging.getLogger(__name__)


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
        self._pid: int | None = None

    def _ensure_listener(self) -> None:
        # A forked process (gunicorn worker) must start its own listener.
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._subscribed = threading.Event()
            threading.Thread(target=self._listen, name="jobgate-waiter", daemon=True).start()
            self._pid = os.getpid()
        # Jobs that end before the subscription exists are caught by the re-read in wait().
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
