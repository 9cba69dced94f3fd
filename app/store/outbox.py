"""What follows a transition: queueing a finished job's webhook delivery.

Both sides end jobs (the gateway cancels, workers finish) and both queue the delivery the
same way, through any Celery app (anything with ``send_task``): the store imports no Celery.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ..core.clock import now_ms
from ..core.contract import expired_webhook_message, webhook_message
from ..core.job import Job
from .jobstore import JobStore

log = logging.getLogger(__name__)


class TaskSender(Protocol):
    """A Celery app, as far as sending a task by name goes."""

    def send_task(self, name: str, *args: Any, **kwargs: Any) -> Any: ...


def queue_webhook(sender: TaskSender, store: JobStore, job: Job) -> None:
    """Queue the webhook of a job that has just ended, if it asked for one.

    The delivery carries the job as it ended (read back now), so it reports the state that
    won, whichever side ended it. Never raises: the job has ended either way.
    """
    if not job.webhook:
        return
    ended = store.get(job.id)
    if ended is None or not ended.status.is_terminal() or not ended.webhook:
        return
    try:
        sender.send_task(**webhook_message(ended))
    except Exception as exc:  # say why there was no call
        log.warning("cannot queue the webhook of job %s: %s", job.id, exc)
        store.set_webhook_status(job.id, f"failed (not queued: {type(exc).__name__})", ended.finished_ms or 0)


def queue_expired_webhook(sender: TaskSender, job: Job) -> None:
    """Queue the webhook of a job its policy.ttl has just removed (status EXPIRED), if it asked
    for one. Its record is gone: the delivery carries the job as it was. Never raises."""
    if not job.webhook:
        return
    try:
        sender.send_task(**expired_webhook_message(job, now_ms()))
    except Exception as exc:
        log.warning("cannot queue the webhook of expired job %s: %s", job.id, exc)
