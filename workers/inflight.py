"""One job running in a concurrent worker process: its result, and how it is stopped.

A concurrent process runs many jobs at once, so a stop (cancel, ttl, execution timeout,
shutdown) cannot use a process-wide signal, nor kill the process. Each running job has an
``InFlight``: a stop reaches that job's handler alone (its asyncio task is cancelled, or
``JobStopped`` is raised in its thread, or it is dropped from its batch). A handler that
ignores the stop keeps its slot for ``grace_s`` at most; then it is abandoned: the job's
outcome is recorded, its slot freed, and whatever the handler still returns is discarded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from .loop import LoopThread, Timer
from .runtime import Outcome
from .stopper import CANCELLED, EXPIRED, OUTPUT_REFUSED, SHUTDOWN, TIMED_OUT, JobStopped

log = logging.getLogger("jobgate.worker")

Interrupt = Callable[[str], None]


class _Cancelled(JobStopped):
    def __init__(self) -> None:
        super().__init__(CANCELLED)


class _Expired(JobStopped):
    def __init__(self) -> None:
        super().__init__(EXPIRED)


class _TimedOut(JobStopped):
    def __init__(self) -> None:
        super().__init__(TIMED_OUT)


class _ShutDown(JobStopped):
    def __init__(self) -> None:
        super().__init__(SHUTDOWN)


class _OutputRefused(JobStopped):
    def __init__(self) -> None:
        super().__init__(OUTPUT_REFUSED)


# Raised inside a handler's thread: CPython instantiates the class with no arguments.
_THREAD_STOPS: dict[str, type[JobStopped]] = {
    CANCELLED: _Cancelled,
    EXPIRED: _Expired,
    TIMED_OUT: _TimedOut,
    SHUTDOWN: _ShutDown,
    OUTPUT_REFUSED: _OutputRefused,
}


class InFlight:
    """A job taken by this process: its outcome (a future), its stop reason, its timers."""

    def __init__(self, job_id: str, loop: LoopThread, grace_s: float):
        self.job_id = job_id
        self.loop = loop
        self.grace_s = grace_s
        self.result: concurrent.futures.Future[Outcome] = concurrent.futures.Future()
        self.reason: str | None = None
        self.abandoned = False
        self.slotted = False  # holds a slot of its endpoint (Runner.take)
        self.on_stop: Callable[[], None] | None = None  # wakes it while it waits for a slot
        self._lock = threading.Lock()
        self._interrupt: Interrupt | None = None
        self._timers: list[Timer] = []

    def attach(self, interrupt: Interrupt) -> None:
        """The way to reach the handler now running; a stop asked earlier is delivered now."""
        with self._lock:
            self._interrupt = interrupt
            reason = self.reason
        if reason is not None:
            interrupt(reason)

    def finish(self, outcome: Outcome | None = None, exc: BaseException | None = None) -> None:
        """Record how the handler ended (ignored once the job has an outcome)."""
        try:
            if exc is not None:
                self.result.set_exception(exc)
            else:
                self.result.set_result(outcome if outcome is not None else Outcome())
        except concurrent.futures.InvalidStateError:
            pass  # stopped and abandoned, or dropped from its batch: this result is discarded

    def stop(self, reason: str) -> bool:
        """Stop this job's handler (from any thread); False when already stopped or ended."""
        with self._lock:
            if self.reason is not None or self.result.done():
                return False
            self.reason = reason
            interrupt = self._interrupt
        if interrupt is not None:
            interrupt(reason)
        elif self.on_stop is not None:
            self.on_stop()
        self._timers.append(self.loop.call_later(self.grace_s, self._abandon))
        return True

    def after(self, delay_s: float, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` on the loop thread in ``delay_s`` unless the job has ended."""

        def fire() -> None:
            if not self.result.done():
                fn(*args)

        self._timers.append(self.loop.call_later(delay_s, fire))

    def _abandon(self) -> None:
        if self.result.done():
            return
        self.abandoned = True
        log.error(
            "job %s ignored its stop (%s) for %s s: its handler is abandoned and its result will be discarded",
            self.job_id,
            self.reason,
            self.grace_s,
            extra={"event": "job.abandoned"},
        )
        self.finish(exc=JobStopped(self.reason or CANCELLED))

    def wait(self) -> Outcome:
        """The handler's outcome; raises what it raised, or JobStopped."""
        return self.result.result()

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()


def run_on_loop(flight: InFlight, coro: Coroutine[Any, Any, Outcome]) -> None:
    """Run an async handler's call as a task on the shared loop."""

    async def main() -> None:
        try:
            outcome = await coro
        except asyncio.CancelledError:
            flight.finish(exc=JobStopped(flight.reason or CANCELLED))
        except BaseException as exc:  # JobStopped from a refused chunk, or the handler's error
            flight.finish(exc=exc)
        else:
            flight.finish(outcome)

    def ended(task: asyncio.Task[None]) -> None:
        if task.cancelled():  # cancelled before its first step: main() never ran
            flight.finish(exc=JobStopped(flight.reason or CANCELLED))

    handle = flight.loop.submit(main(), ended)
    flight.attach(lambda reason: handle.cancel())


def run_in_thread(flight: InFlight, call: Callable[[], Outcome], name: str) -> None:
    """Run a plain handler's call in a thread of its own."""
    state = {"running": True}
    lock = threading.Lock()

    def body() -> None:
        try:
            try:
                outcome = call()
            except BaseException as exc:
                flight.finish(exc=exc)
            else:
                flight.finish(outcome)
            with lock:
                state["running"] = False
        except JobStopped:
            pass  # a stop that landed just as the handler ended: its outcome is recorded

    thread = threading.Thread(target=body, name=name, daemon=True)

    def interrupt(reason: str) -> None:
        with lock:
            if state["running"] and thread.ident is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread.ident), ctypes.py_object(_THREAD_STOPS[reason])
                )

    thread.start()
    flight.attach(interrupt)
