"""Dynamic batching: one handler call for up to ``max_size`` jobs gathered for ``wait_ms``.

Everything here runs on the process's loop thread, so the collector needs no lock. A batch
leaves when ``max_size`` jobs are waiting, or ``wait_ms`` after its oldest job arrived,
whichever comes first, and only while fewer than ``max_batches`` calls are in flight.
A job stopped while it waits is dropped from the batch; one stopped during the call has its
output discarded; the others are not disturbed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .inflight import InFlight
from .loop import LoopThread
from .runtime import Outcome, from_return

log = logging.getLogger("jobgate.worker")


def length_error(expected: int, actual: Any) -> str:
    """The error of every job of a call whose result is not one output per job."""
    got = (
        f"{len(actual)} output{'' if len(actual) == 1 else 's'}"
        if isinstance(actual, list)
        else f"a {type(actual).__name__}"
    )
    return f"batch handler returned {got} for a batch of {expected} jobs; expected a list of {expected}"


def split(result: Any, size: int) -> list[Outcome]:
    """One Outcome per job from a batch handler's return value (RunPod's rules per item)."""
    if not isinstance(result, list) or len(result) != size:
        error = length_error(size, result)
        return [Outcome(error=error) for _ in range(size)]
    return [from_return(item) for item in result]


@dataclass
class _Waiting:
    job: dict[str, Any]
    flight: InFlight
    arrived: float = field(default=0.0)


class Batcher:
    """Gathers one endpoint's jobs into handler calls."""

    def __init__(
        self,
        handler: Callable[[list[dict[str, Any]]], Any],
        loop: LoopThread,
        *,
        max_size: int,
        wait_ms: int,
        max_batches: int,
        name: str = "batch",
    ):
        self.handler = handler
        self.loop = loop
        self.max_size = max_size
        self.wait_s = wait_ms / 1000
        self.max_batches = max_batches
        self.name = name
        self.is_async = inspect.iscoroutinefunction(handler)
        self.waiting: list[_Waiting] = []
        self.calls = 0
        self._timer: asyncio.TimerHandle | None = None

    def submit(self, job: dict[str, Any], flight: InFlight) -> None:
        """Add a job (from any thread); its outcome arrives on ``flight``."""
        flight.attach(lambda reason: self._drop(flight, reason))
        self.loop.call_soon(self._add, _Waiting(job, flight))

    def _drop(self, flight: InFlight, reason: str) -> None:
        from .stopper import JobStopped

        flight.finish(exc=JobStopped(reason))  # the caller goes on now; the batch goes on too

    def _add(self, item: _Waiting) -> None:
        if item.flight.result.done():
            return
        item.arrived = self.loop.loop.time()
        self.waiting.append(item)
        self._pump()

    def _pump(self) -> None:
        now = self.loop.loop.time()
        self.waiting = [w for w in self.waiting if not w.flight.result.done()]
        while self.waiting and self.calls < self.max_batches:
            full = len(self.waiting) >= self.max_size
            if not full and now < self.waiting[0].arrived + self.wait_s:
                break
            batch, self.waiting = self.waiting[: self.max_size], self.waiting[self.max_size :]
            self._launch(batch)
        self._rearm()

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.waiting and self.calls < self.max_batches:
            self._timer = self.loop.loop.call_at(self.waiting[0].arrived + self.wait_s, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()

    def _launch(self, batch: list[_Waiting]) -> None:
        self.calls += 1
        jobs = [w.job for w in batch]
        if self.is_async:
            self.loop.loop.create_task(self._call_async(batch, jobs))
        else:
            threading.Thread(
                target=self._call_sync, args=(batch, jobs), name=f"jobgate-{self.name}", daemon=True
            ).start()

    async def _call_async(self, batch: list[_Waiting], jobs: list[dict[str, Any]]) -> None:
        try:
            result = await self.handler(jobs)
        except BaseException as exc:
            self._done(batch, None, exc)
        else:
            self._done(batch, result, None)

    def _call_sync(self, batch: list[_Waiting], jobs: list[dict[str, Any]]) -> None:
        try:
            result = self.handler(jobs)
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
        except BaseException as exc:
            self.loop.call_soon(self._done, batch, None, exc)
        else:
            self.loop.call_soon(self._done, batch, result, None)

    def _done(self, batch: list[_Waiting], result: Any, exc: BaseException | None) -> None:
        self.calls -= 1
        if exc is not None:
            for w in batch:
                w.flight.finish(exc=exc)
        else:
            for w, outcome in zip(batch, split(result, len(batch))):
                w.flight.finish(outcome)
        self._pump()


async def _await(awaitable: Any) -> Any:
    return await awaitable
