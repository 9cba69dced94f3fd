"""The wire contract between the gateway and the workers: task and queue names, priority
lanes, time limits, the stop signal, and the exact messages each side sends.

The gateway sends work by task name and never imports the workers' code (as in Flask's
Celery example); both sides agree through this module alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import Job

# The task that runs one job: args (endpoint id, job id); the task id is the job id.
TASK_NAME = "jobgate.run_job"
# The task that POSTs a finished job's webhook: args (job id, url, body, finished ms).
WEBHOOK_TASK_NAME = "jobgate.deliver_webhook"
# Not "jobgate.<id>": an endpoint may be called "webhooks". Every worker serves it.
WEBHOOK_QUEUE = "jobgate-webhooks"
QUEUE_PREFIX = "jobgate."
# Redis sorts priorities ascending: 0 is taken first, 9 only when the 0 lane is empty.
NORMAL_PRIORITY, LOW_PRIORITY = 0, 9
PRIORITY_STEPS = [NORMAL_PRIORITY, LOW_PRIORITY]
# Seconds between the soft time limit (the handler is interrupted) and the hard one
# (the pool process is killed), for handlers stuck where the soft signal cannot reach.
HARD_LIMIT_GRACE_S = 10
# Beyond a job's hard time limit, for recording its outcome and acknowledging its message.
VISIBILITY_MARGIN_S = 3600
# /cancel revokes a running job with this signal: the worker turns it into JobStopped
# inside the handler and keeps its process (SIGTERM would kill the process and its model).
STOP_SIGNAL_NAME = "SIGUSR2"


def queue_name(endpoint_id: str) -> str:
    """The Celery queue of an endpoint's jobs."""
    return QUEUE_PREFIX + endpoint_id


def time_limits(execution_timeout_ms: int) -> tuple[float, float]:
    """Celery's (soft, hard) time limits for a job's execution timeout."""
    soft = execution_timeout_ms / 1000
    return soft, soft + HARD_LIMIT_GRACE_S


def job_message(job: Job) -> dict[str, Any]:
    """``send_task`` arguments that queue a recorded job for its endpoint's workers."""
    soft, hard = time_limits(job.execution_timeout_ms)
    return {
        "name": TASK_NAME,
        "args": (job.endpoint, job.id),
        "task_id": job.id,
        "queue": queue_name(job.endpoint),
        "priority": LOW_PRIORITY if job.low_priority else NORMAL_PRIORITY,
        "soft_time_limit": soft,
        "time_limit": hard,
        "retry": False,
        # The outcome lives in the job store: without this Celery would subscribe to the
        # result backend for every job sent (two more Redis commands per /run).
        "ignore_result": True,
        # policy.ttl: Celery drops a message still queued at the job's deadline.
        "expires": datetime.fromtimestamp(job.deadline_ms / 1000, UTC),
    }


def webhook_payload(job: Job) -> dict[str, Any]:
    """What a webhook receiver gets: the job as /status shows it (less the delivery's own status)."""
    body = job.to_status()
    body.pop("webhookStatus", None)
    return body


# The status a webhook reports for a job removed by its policy.ttl (not a RunPod status: the
# job has no record left to read with /status, which answers "expired at ..." from then on).
EXPIRED_STATUS = "EXPIRED"


def expired_webhook_payload(job: Job, at_ms: int) -> dict[str, Any]:
    """What a webhook receiver gets for a job its policy.ttl removed at ``at_ms``."""
    body: dict[str, Any] = {
        "id": job.id,
        "status": EXPIRED_STATUS,
        "error": f"policy.ttl of {job.ttl_ms} ms passed before the job finished; it was removed",
    }
    if job.started_ms is not None:
        body["delayTime"] = max(0, job.started_ms - job.queued_ms)
        body["executionTime"] = max(0, at_ms - job.started_ms)
    if job.worker_id:
        body["workerId"] = job.worker_id
    return body


def expired_webhook_message(job: Job, at_ms: int) -> dict[str, Any]:
    """``send_task`` arguments that queue the webhook of a job its policy.ttl removed."""
    return {**webhook_message(job), "args": (job.id, job.webhook, expired_webhook_payload(job, at_ms), at_ms)}


def webhook_message(job: Job) -> dict[str, Any]:
    """``send_task`` arguments that queue the webhook delivery of an ended job."""
    return {
        "name": WEBHOOK_TASK_NAME,
        "args": (job.id, job.webhook, webhook_payload(job), job.finished_ms),
        "queue": WEBHOOK_QUEUE,
        "retry": True,
        "ignore_result": True,
    }
