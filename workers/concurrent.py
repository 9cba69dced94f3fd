"""A concurrent worker process: many jobs at once, sharing the process's loaded handlers.

``jobgate worker`` runs one when a served endpoint sets ``max_concurrency`` above 1 or
``batch``: one Celery node, one process (one GPU), Celery's thread pool sized to the slots.
The Runner holds what the process's jobs share: the event loop thread that runs async
handlers and timers, each endpoint's slots, the batch collectors, and the job in flight by
id (so that a stop reaches exactly one job).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from app.core.endpoints import Endpoint, EndpointConfigError

from . import runpod_compat
from .batching import Batcher
from .inflight import InFlight
from .loop import LoopThread
from .slots import Capacity, EndpointSlots

log = logging.getLogger("jobgate.worker")
# How often the RunPod concurrency_modifiers are asked, besides after every job.
MODIFIER_POLL_S = 1.0
# Threads writing the chunks of async generators (each job waits for its own).
CHUNK_WRITERS = 8


def is_async(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` runs on the event loop: an ``async def`` or an async generator."""
    if inspect.iscoroutinefunction(handler) or inspect.isasyncgenfunction(handler):
        return True
    # A callable object: its __call__ decides.
    call = None if inspect.isfunction(handler) or inspect.ismethod(handler) else type(handler).__dict__.get("__call__")
    return call is not None and (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))


def check_batch_handler(endpoint: Endpoint, handler: Callable[..., Any], source: str) -> None:
    """A batch handler returns one list: a generator is a configuration error."""
    if inspect.isgeneratorfunction(handler) or inspect.isasyncgenfunction(handler):
        raise EndpointConfigError(
            f"{source}: [endpoints.{endpoint.id}] batch: handler {endpoint.handler!r} is a generator; "
            f"a batch handler takes a list of jobs and returns a list of outputs"
        )


class Runner:
    """What the jobs of one concurrent process share."""

    def __init__(self, endpoints: Iterable[Endpoint], grace_s: float):
        self.endpoints = {e.id: e for e in endpoints}
        self.grace_s = grace_s
        self.loop = LoopThread()
        self.capacity = Capacity(
            {
                e.id: EndpointSlots(e.id, e.max_concurrency, e.batch.max_size if e.batch else 1)
                for e in self.endpoints.values()
            }
        )
        self.batchers: dict[str, Batcher] = {}
        self.flights: dict[str, InFlight] = {}
        self._lock = threading.Lock()
        # Async generators' chunks are written here, so the loop never waits on Redis for one job.
        self.writers = concurrent.futures.ThreadPoolExecutor(CHUNK_WRITERS, thread_name_prefix="jobgate-chunks")

    async def offload(self, emit: Callable[[Any], None], chunk: Any) -> None:
        """Write one chunk in a writer thread; the job's generator waits for it (order kept)."""
        await asyncio.get_running_loop().run_in_executor(self.writers, emit, chunk)

    def prepare(self, handlers: dict[str, Callable[..., Any]], source: str) -> None:
        """Once the handlers are loaded: batch collectors, RunPod concurrency modifiers."""
        for eid, handler in handlers.items():
            endpoint = self.endpoints[eid]
            if endpoint.batch is not None:
                check_batch_handler(endpoint, handler, source)
                self.batchers[eid] = Batcher(
                    handler,
                    self.loop,
                    max_size=endpoint.batch.max_size,
                    wait_ms=endpoint.batch.wait_ms,
                    max_batches=endpoint.max_concurrency,
                    name=eid,
                )
            config = runpod_compat.config_for(handler)
            if config is not None and config.concurrency_modifier is not None:
                self.capacity.slots[eid].follow(config.concurrency_modifier)
        self.capacity.ask_modifiers()
        if any(s.modifier is not None for s in self.capacity.slots.values()):
            self.loop.call_later(MODIFIER_POLL_S, self._poll)

    def _poll(self) -> None:
        self.capacity.ask_modifiers()
        self.loop.call_later(MODIFIER_POLL_S, self._poll)

    def take(self, job_id: str, endpoint_id: str) -> InFlight:
        """The job's InFlight, registered for stops, once it has a slot of its endpoint (a job of
        the next wave waits here); ``slotted`` is False when it was stopped while waiting."""
        flight = InFlight(job_id, self.loop, self.grace_s)
        with self._lock:
            self.flights[job_id] = flight
        slots = self.capacity.slots[endpoint_id]
        flight.on_stop = slots.wake
        flight.slotted = slots.acquire(lambda: flight.reason is not None)
        flight.on_stop = None
        return flight

    def release(self, flight: InFlight, endpoint_id: str) -> None:
        """The job has ended here: free its slot, then ask the modifiers (before taking more)."""
        flight.close()
        with self._lock:
            if self.flights.get(flight.job_id) is flight:
                del self.flights[flight.job_id]
        if flight.slotted:
            self.capacity.slots[endpoint_id].release()
        self.capacity.ask_modifiers()

    def stop(self, job_id: str, reason: str) -> bool:
        """Stop one job of this process (from any thread); False when it does not run here."""
        with self._lock:
            flight = self.flights.get(job_id)
        return flight is not None and flight.stop(reason)
