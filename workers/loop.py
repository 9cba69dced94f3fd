"""The one asyncio event loop of a concurrent worker process, in a thread of its own.

Async handlers of every job run on it as tasks, so that jobs sharing the process's loaded
model overlap at their awaits; timers (execution timeouts, ttl, the concurrency modifier's
poll) run on it too, so N jobs need no N timer threads.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any


class LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self, name: str = "jobgate-loop"):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def in_loop(self) -> bool:
        """Whether the caller runs on this loop's thread."""
        return threading.current_thread() is self._thread

    def submit(
        self, coro: Coroutine[Any, Any, Any], on_done: Callable[[asyncio.Task[Any]], None] | None = None
    ) -> TaskHandle:
        """Run ``coro`` as a task on the loop, in a copy of the caller's context (log fields);
        ``on_done(task)`` runs on the loop when it ends, also when cancelled before it started."""
        handle = TaskHandle(self, on_done)
        context = contextvars.copy_context()
        self.loop.call_soon_threadsafe(handle._create, coro, context)
        return handle

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` on the loop's thread, soon (from any thread)."""
        self.loop.call_soon_threadsafe(fn, *args)

    def call_later(self, delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Call ``fn(*args)`` on the loop's thread after ``delay_s``; cancellable from any thread."""
        timer = Timer(self)
        self.loop.call_soon_threadsafe(timer._arm, max(0.0, delay_s), fn, args)
        return timer


class Timer:
    """A cancellable call scheduled on a LoopThread from any thread."""

    def __init__(self, owner: LoopThread):
        self._owner = owner
        self._handle: asyncio.TimerHandle | None = None
        self._cancelled = False

    def _arm(self, delay_s: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if not self._cancelled:
            self._handle = self._owner.loop.call_later(delay_s, fn, *args)

    def cancel(self) -> None:
        self._cancelled = True
        self._owner.call_soon(self._cancel_on_loop)

    def _cancel_on_loop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


class TaskHandle:
    """A task submitted to a LoopThread, cancellable from any thread (also before it exists)."""

    def __init__(self, owner: LoopThread, on_done: Callable[[asyncio.Task[Any]], None] | None = None):
        self._owner = owner
        self._on_done = on_done
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False

    def _create(self, coro: Coroutine[Any, Any, Any], context: contextvars.Context) -> None:
        self._task = self._owner.loop.create_task(coro, context=context)
        if self._on_done is not None:
            self._task.add_done_callback(self._on_done)
        if self._cancelled:
            self._task.cancel()

    def cancel(self) -> None:
        """Cancel the task (CancelledError at its current await)."""
        self._owner.call_soon(self._cancel_on_loop)

    def _cancel_on_loop(self) -> None:
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()
