"""The one list of job states, with their wire names."""

from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    """A job's state as the RunPod API spells it."""

    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"

    def is_terminal(self) -> bool:
        return self in TERMINAL

    def __str__(self) -> str:  # so f-strings and JSON show the wire name
        return self.value


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT})
RETRYABLE = frozenset({JobStatus.FAILED, JobStatus.TIMED_OUT})
