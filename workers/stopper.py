"""Stopping a running handler (cancel, policy.ttl) without losing its pool process.

/cancel marks the job CANCELLED first, then asks Celery to revoke it with ``terminate``,
but with STOP_SIGNAL (SIGUSR2) instead of SIGTERM. Celery sends that signal to the pool
process running the job, and this module turns it into a ``JobStopped`` exception raised
inside the handler, the way billiard turns SIGUSR1 into SoftTimeLimitExceeded for the soft
time limit. The exception interrupts sleeps and waits and runs the handler's ``finally``
blocks; the process, its loaded model and its GPU context stay, free for the next job.
A job past its policy.ttl is stopped the same way by a timer in the process.
A handler that swallows the exception (or sits in one long C call) is given ``grace_s``;
then its process is killed and Celery replaces it, as SIGTERM would have done at once.

Everything here runs in one pool process, one job at a time. The signal handler runs in
the main thread between bytecodes, so it takes no lock; it raises at most once per job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from app.core.clock import now_ms
from app.core.contract import STOP_SIGNAL_NAME
from app.core.job import Job

log = logging.getLogger(__name__)

STOP_SIGNAL = signal.Signals[STOP_SIGNAL_NAME]
CANCELLED = "cancelled"
EXPIRED = "ttl"
# A progress value that is not JSON: the job ends FAILED (see workers/outputs.py).
OUTPUT_REFUSED = "output refused"
# Reasons a job of a concurrent process is stopped for (workers.inflight): past its
# execution timeout, or still running when the worker's shutdown grace ran out.
TIMED_OUT = "timeout"
SHUTDOWN = "shutdown"


class JobStopped(BaseException):
    """Raised inside a handler whose job was cancelled or outlived its ttl.

    A ``BaseException``, like ``asyncio.CancelledError``, so that a handler's
    ``except Exception`` does not swallow it.
    """

    def __init__(self, reason: str, by_signal: bool = False):
        super().__init__(reason)
        self.reason = reason
        # Whether Celery's revoke signal asked for the stop (its main process then announced it).
        self.by_signal = by_signal


class Stopper:
    """Delivers stop requests for the job this process runs as ``JobStopped``."""

    def __init__(self, grace_s: float, on_expired: Callable[[Job], None]):
        self.grace_s = grace_s
        self.on_expired = on_expired
        self._installed_pid: int | None = None
        self._run = 0  # bumped per job, so stale timers do nothing
        self._job_id: str | None = None  # the job this process has taken
        self._reason: str | None = None  # why it must stop, once asked
        self._armed = False  # whether the handler is running (raise now)
        self._signalled = False  # whether the stop came by Celery's revoke signal
        self._timers: list[threading.Timer] = []

    def _install(self) -> None:
        if self._installed_pid == os.getpid():
            return
        if threading.current_thread() is not threading.main_thread():
            log.warning("not in the main thread: jobs here stop only between chunks")
            return
        signal.signal(STOP_SIGNAL, self._on_signal)
        self._installed_pid = os.getpid()

    @contextlib.contextmanager
    def taking(self, job_id: str) -> Iterator[None]:
        """Around taking and running one job: a stop for it from now on is not lost."""
        self._install()
        self._run += 1
        self._job_id, self._reason, self._armed, self._signalled = job_id, None, False, False
        try:
            yield
        finally:
            self._armed = False
            self._job_id = None
            self._run += 1
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()

    def call(self, job: Job, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` (the handler) so that a stop request raises JobStopped inside it."""
        if job.ttl_ms > 0:
            self._start_timer(max(0.0, (job.deadline_ms - now_ms()) / 1000), self._expire, job, self._run)
        try:
            self._armed = True
            if self._reason is not None:  # asked before the handler started
                self.interrupt(self._reason)
            return fn()
        finally:
            self._armed = False

    def interrupt(self, reason: str) -> None:
        """Stop the running handler from inside it (e.g. a chunk found the job cancelled)."""
        self._armed = False
        self._reason = self._reason or reason
        raise JobStopped(self._reason, by_signal=self._signalled)

    def stop(self, job_id: str, reason: str) -> bool:
        """Ask (from any thread) that ``job_id`` stop, if it is the job running here."""
        if self._job_id != job_id or self._reason is not None:
            return False
        self._reason = reason
        self._start_timer(self.grace_s, self._kill, job_id, self._run)
        if self._installed_pid == os.getpid():
            signal.pthread_kill(threading.main_thread().ident, STOP_SIGNAL)  # type: ignore[arg-type]
        return True

    def _on_signal(self, signum: int, frame: Any) -> None:
        # Sent by Celery's revoke(terminate=True, signal=STOP_SIGNAL) on /cancel, or by stop().
        if self._job_id is None:
            return  # between jobs: nothing to stop
        if self._reason is None:
            self._reason = CANCELLED
            self._signalled = True
            self._start_timer(self.grace_s, self._kill, self._job_id, self._run)
        if self._armed:
            self.interrupt(self._reason)

    def _start_timer(self, delay_s: float, fn: Callable[..., None], *args: Any) -> None:
        timer = threading.Timer(delay_s, fn, args)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _expire(self, job: Job, run: int) -> None:
        if self._run != run:
            return
        try:
            self.on_expired(job)
        except Exception as exc:  # the record expires by itself anyway
            log.warning("cannot remove expired job %s: %s", job.id, exc)
        if self.stop(job.id, EXPIRED):
            log.info("job %s passed its ttl: stopping it", job.id)

    def _kill(self, job_id: str, run: int) -> None:
        if self._run == run and self._job_id == job_id:
            log.error("job %s ignored its stop for %s s: killing pool process %s", job_id, self.grace_s, os.getpid())
            os.kill(os.getpid(), signal.SIGKILL)
