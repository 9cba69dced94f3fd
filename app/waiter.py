"""Wake waiting requests when a job changes, through one Redis pub/sub listener per process.

Every terminal transition publishes the job id on the done channel, and every streamed
chunk on the chunk channel. Each gateway process keeps a single subscriber thread (a
greenlet under gevent), so a thousand waiting /runsync or /stream calls cost one Redis
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


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class CompletionWaiter:
    """Lets a request sleep until a given job id is published as done (or as streamed)."""

    def __init__(self, redis: Redis, channel: str, chunk_channel: str | None = None):
        self.redis = redis
        self.channel = channel
        self.chunk_channel = chunk_channel
        self._lock = threading.Lock()
        # Per channel: job id -> events of the requests waiting on it.
        self._events: dict[str, dict[str, set[threading.Event]]] = {
            c: {} for c in (channel, chunk_channel) if c}
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
            for waiting in self._events.values():
                for events in waiting.values():
                    for ev in events:
                        ev.set()

    def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                pubsub.subscribe(*self._events)
                for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        if _text(message["channel"]) == self.channel:
                            self._subscribed.set()
                        # Anything published while we were not listening was missed:
                        # let every waiter re-read its job.
                        self._wake_all()
                    elif message["type"] == "message":
                        self._wake(message["channel"], message["data"])
            except Exception as exc:  # connection lost: resubscribe, waiters re-check
                log.warning("completion listener lost Redis (%s); reconnecting", exc)
                self._subscribed.clear()
                self._wake_all()
                time.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()

    def _wake(self, channel: str | bytes, job_id: str | bytes) -> None:
        with self._lock:
            for ev in self._events.get(_text(channel), {}).get(_text(job_id), ()):
                ev.set()

    @contextlib.contextmanager
    def watch(self, job_id: str, *, chunks: bool = False) -> Iterator[threading.Event]:
        """An event set whenever ``job_id`` may have ended (or, with ``chunks``, streamed)."""
        self._ensure_listener()
        ev = threading.Event()
        channels = [self.channel] + ([self.chunk_channel] if chunks and self.chunk_channel else [])
        with self._lock:
            for c in channels:
                self._events[c].setdefault(job_id, set()).add(ev)
        try:
            yield ev
        finally:
            with self._lock:
                for c in channels:
                    waiting = self._events[c].get(job_id)
                    if waiting is not None:
                        waiting.discard(ev)
                        if not waiting:
                            del self._events[c][job_id]
