"""How many jobs a concurrent process takes: each endpoint's slots, and the broker's prefetch.

An endpoint's limit is its ``max_concurrency`` (times ``batch.max_size`` for a batch
endpoint: that many jobs gather into that many calls), or, for a RunPod handler file with a
``concurrency_modifier``, the modifier's answer, asked before more work is taken and kept
within ``max_concurrency``. The process's prefetch (the messages it holds unacknowledged)
follows its endpoints' limits: the jobs it runs, plus the next wave waiting for a slot
(still IN_QUEUE), so that freed slots never wait for the broker's round trips; and a change
of the modifier's answer applies at once, also while jobs run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("jobgate.worker")
Modifier = Callable[[int], int]
# At the latest, a job waiting for a slot looks this often whether it was stopped meanwhile.
STOP_POLL_S = 2.0


class EndpointSlots:
    """One endpoint's running jobs in this process, and its current limit."""

    def __init__(self, endpoint_id: str, ceiling: int, per_call: int = 1, modifier: Modifier | None = None):
        self.endpoint_id = endpoint_id
        self.ceiling = ceiling  # max_concurrency: calls (or jobs) at once, at most
        self.per_call = per_call  # batch.max_size: jobs per call
        self.modifier = modifier
        self.concurrency = 1 if modifier is not None else ceiling
        self.in_use = 0
        self._cond = threading.Condition()
        self._warned = False

    def follow(self, modifier: Modifier) -> None:
        """Take the limit from a RunPod concurrency_modifier from now on (it starts at 1, as RunPod's)."""
        self.modifier = modifier
        self.concurrency = 1

    @property
    def limit(self) -> int:
        """Jobs of this endpoint this process may hold now: a batch endpoint also holds the next
        batch while its calls run, so that a call never waits for its jobs to be fetched."""
        return (self.concurrency + (1 if self.per_call > 1 else 0)) * self.per_call

    def lookahead(self, concurrency: int) -> int:
        """Messages held beyond the limit, not started (IN_QUEUE) until a slot frees: the next wave
        of a many-jobs endpoint, so that its slots never wait for the broker (a batch endpoint's
        look-ahead is its gathering batch, in ``limit``)."""
        return concurrency if self.per_call == 1 and concurrency > 1 else 0

    @property
    def prefetch(self) -> int:
        """Messages of this endpoint the process may hold now (started or waiting for a slot)."""
        return self.limit + self.lookahead(self.concurrency)

    @property
    def most(self) -> int:
        """The most messages it may ever hold (with the concurrency at its ceiling)."""
        top = self.ceiling
        return (top + (1 if self.per_call > 1 else 0)) * self.per_call + self.lookahead(top)

    def acquire(self, stopped: Callable[[], bool]) -> bool:
        """Wait for a free slot of this endpoint and take it; False (no slot) once ``stopped()``."""
        with self._cond:
            while not stopped():
                if self.in_use < self.limit:
                    self.in_use += 1
                    return True
                self._cond.wait(STOP_POLL_S)  # woken by a release or a stop (wake); the timeout is a safety net
            return False

    def wake(self) -> None:
        """Let the jobs waiting for a slot look again whether they were stopped."""
        with self._cond:
            self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self.in_use -= 1
            self._cond.notify()

    def ask_modifier(self) -> bool:
        """Ask the RunPod concurrency_modifier for the limit; True when it changed."""
        if self.modifier is None:
            return False
        try:
            wanted = self.modifier(self.concurrency)
            if not isinstance(wanted, int) or isinstance(wanted, bool):
                raise TypeError(f"returned {wanted!r}, not an int")
        except Exception as exc:  # a broken modifier must not stop the worker: keep the value
            log.warning(
                "%s: concurrency_modifier failed (%s); keeping concurrency %d",
                self.endpoint_id,
                exc,
                self.concurrency,
                extra={"event": "worker.modifier_failed"},
            )
            return False
        chosen = min(max(1, wanted), self.ceiling)
        if wanted > self.ceiling and not self._warned:
            self._warned = True
            log.warning(
                "%s: concurrency_modifier asks for %d jobs at once; max_concurrency = %d in the endpoints file caps it",
                self.endpoint_id,
                wanted,
                self.ceiling,
                extra={"event": "worker.modifier_capped"},
            )
        if chosen == self.concurrency:
            return False
        with self._cond:
            self.concurrency = chosen
            self._cond.notify_all()
        log.info(
            "%s: concurrency now %d (concurrency_modifier)",
            self.endpoint_id,
            chosen,
            extra={"event": "worker.concurrency"},
        )
        return True


class Capacity:
    """Every served endpoint's slots, and the consumer's prefetch kept equal to their sum."""

    def __init__(self, slots: dict[str, EndpointSlots]):
        self.slots = slots
        self._qos: Any = None

    @property
    def ceiling(self) -> int:
        """The most messages this process may ever hold (Celery's thread pool size)."""
        return sum(s.most for s in self.slots.values())

    @property
    def prefetch(self) -> int:
        return sum(s.prefetch for s in self.slots.values())

    @property
    def limit(self) -> int:
        return sum(s.limit for s in self.slots.values())

    @property
    def in_use(self) -> int:
        return sum(s.in_use for s in self.slots.values())

    def attach(self, qos: Any) -> None:
        """Follow the consumer's QoS (kombu's): its prefetch is our limit from now on."""
        self._qos = qos
        self.ask_modifiers()
        qos.set(self.prefetch)
        with qos._mutex:
            qos.value = self.prefetch

    def ask_modifiers(self) -> None:
        """Ask every concurrency_modifier; update the prefetch when a limit changed."""
        changed = False
        for s in self.slots.values():
            changed |= s.ask_modifier()
        qos = self._qos
        if changed and qos is not None:
            # Applied by the consumer's own loop (as Celery's autoscaler does): kombu is not thread-safe.
            with qos._mutex:
                qos.value = self.prefetch
