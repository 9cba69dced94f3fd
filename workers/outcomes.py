"""What Celery (and so Flower) is told about a job's end: the job's state, not "the task returned".

Flower builds its task states from the worker's task events, and a task that returns is a
``task-succeeded``, whatever it returned. So once the job store has recorded the outcome, the
task ends the way its job did:

- COMPLETED: it returns the status (``task-succeeded``);
- FAILED or TIMED_OUT: it raises ``JobFailed`` (or ``JobTimedOut``) carrying the job's error
  (``task-failed``, the error as the exception text). The class is in the task's ``throws``, so the
  worker logs it in one line, without a traceback: the handler's own traceback was logged already;
- CANCELLED, or removed at its policy.ttl: a ``task-revoked`` event, then ``JobNotRun``
  (Celery's ``Ignore``: no success or failure event, the message is acknowledged). When Celery's
  revoke signal stopped the handler, Celery's main process has already sent that event;
- not run because another delivery runs it, or it had already ended: ``JobNotRun`` alone (the
  live run reports).

Celery counts a hard time-limit kill as a failed task by itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import Task
from celery.exceptions import Ignore

from app.core.states import JobStatus

log = logging.getLogger("jobgate.worker")

SKIPPED = "SKIPPED"
REMOVED = "REMOVED"


class JobFailed(Exception):
    """The job ended FAILED; the exception's text is the job's ``error``."""

    status = JobStatus.FAILED.value

    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


class JobTimedOut(JobFailed):
    """The job ended TIMED_OUT."""

    status = JobStatus.TIMED_OUT.value


class JobNotRun(Ignore):
    """The job was cancelled, removed, or not run: neither a success nor a failure of the task."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return type(self), (self.status,)


# Expected outcomes: Celery logs them at INFO, without a traceback.
THROWS = (JobFailed,)


@dataclass(frozen=True)
class Ended:
    """How a delivery of a job ended: the job's status (or SKIPPED / REMOVED) and its error."""

    status: str
    error: str | None = None
    # Celery's revoke signal stopped the handler: its main process has sent task-revoked already.
    revoked_by_celery: bool = False


def tell_celery(task: Task, ended: Ended) -> str:
    """Return (a success) or raise so that Celery's task events say what became of the job."""
    if ended.status == JobStatus.COMPLETED.value:
        return ended.status
    if ended.status == JobStatus.FAILED.value:
        raise JobFailed(ended.error or "failed")
    if ended.status == JobStatus.TIMED_OUT.value:
        raise JobTimedOut(ended.error or "timed out")
    if ended.status in (JobStatus.CANCELLED.value, REMOVED) and not ended.revoked_by_celery:
        try:
            task.send_event("task-revoked", terminated=False, signum=None, expired=ended.status == REMOVED)
        except Exception as exc:  # an event is advice for monitors: never fail the job for it
            log.warning("could not send task-revoked for job %s: %s", task.request.id, exc)
    raise JobNotRun(ended.status)
