"""Follow a streaming job's chunks as they are produced, woken by pub/sub rather than a timer.

The worker appends each chunk to the job's list and publishes the job id; the
process's one listener (``CompletionWaiter``) wakes the followers of that job.
A follower keeps its own position in the list, so several can read one job and
nothing is consumed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generator

from .jobstore import JobStore
from .states import JobStatus
from .waiter import CompletionWaiter

# With no news for this long a follower yields an empty update (a chance to send a
# keep-alive, and a re-read in case a job vanished without any event, e.g. expired).
IDLE_S = 15.0


@dataclass
class Update:
    """New chunks in order, and the job's state when they were read (None once it is gone)."""

    chunks: list[Any] = field(default_factory=list)
    status: JobStatus | None = None

    @property
    def ended(self) -> bool:
        return self.status is None or self.status.is_terminal()


def follow_chunks(store: JobStore, waiter: CompletionWaiter, job_id: str,
                  idle_s: float = IDLE_S) -> Generator[Update, None, None]:
    """Yield each batch of new chunks of ``job_id``; the last update has ``ended`` true.

    Every chunk pushed before the job ended is yielded: the state is read before the
    list, and the worker pushes chunks before it records the end.
    """
    position = 0
    with waiter.watch(job_id) as changed:
        while True:
            changed.clear()
            status = store.status(job_id)
            chunks = store.chunks(job_id, position)
            position += len(chunks)
            update = Update(chunks, status)
            if chunks or update.ended:
                yield update
                if update.ended:
                    return
                continue
            if not changed.wait(idle_s):
                yield update
