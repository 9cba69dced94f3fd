"""Webhooks: POST a job's final status to the URL given at submission, as a Celery task.

The job is already in its terminal state when the delivery is queued (``app.store.outbox``,
by whichever side ended it), so a slow or dead
receiver never delays or fails it. Up to ATTEMPTS tries, ``webhook_backoff_s`` apart and
doubling; the outcome is kept on the job as ``webhookStatus``. With JOBGATE_WEBHOOK_SECRET
set, each attempt is signed: ``X-Jobgate-Signature: sha256=<hex HMAC-SHA256(secret,
"<X-Jobgate-Timestamp>.<raw body>")>``, so a receiver can check origin and freshness.

Deliveries go only where the destination rules allow (``app.core.destinations``, checked
again here against the address actually connected to, see ``workers/webhook_transport.py``);
a refused destination is not tried again. Redirects are not followed; at most 64 KiB of an
answer is read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

import requests
from celery import Task

from app.core.contract import WEBHOOK_TASK_NAME
from app.core.destinations import DestinationRefused, Destinations

from . import webhook_transport
from .celery_base import JobgateCelery

log = logging.getLogger(__name__)

ATTEMPTS = 3
# (connect, read) seconds: an attempt holds a pool process at most this long.
TIMEOUT_S = (3.05, 10)
TIMESTAMP_HEADER = "X-Jobgate-Timestamp"
SIGNATURE_HEADER = "X-Jobgate-Signature"
DELIVERED, PENDING = "delivered", "pending"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Jobgate-Signature value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Refused(Exception):
    """The destination rules refuse the URL: no attempt is made, now or later."""


def _attempt(destinations: Destinations, url: str, body: bytes, secret: str) -> str | None:
    """POST once; None when the receiver answered 2xx, else why not (Refused: never try again)."""
    headers = {"Content-Type": "application/json", "User-Agent": "jobgate-webhook"}
    if secret:
        timestamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    with webhook_transport.session(destinations) as session:
        try:
            status = webhook_transport.post(session, url, body, headers, TIMEOUT_S)
        except DestinationRefused as exc:
            raise Refused(str(exc)) from None
        except requests.RequestException as exc:
            return type(exc).__name__
    return None if 200 <= status < 300 else f"HTTP {status}"


def deliver(task: Task, job_id: str, url: str, body: dict[str, Any], finished_ms: int) -> str:
    """One delivery attempt; retried by Celery with backoff until ATTEMPTS are spent."""
    ctx = task.app.context
    data = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    try:
        failure = _attempt(ctx.destinations, url, data, ctx.settings.webhook_secret)
    except Refused as refused:
        log.warning("webhook of job %s not sent: %s", job_id, refused)
        outcome = f"failed (refused: {refused})"
        ctx.store.set_webhook_status(job_id, outcome, finished_ms)
        return outcome
    if failure is None:
        ctx.store.set_webhook_status(job_id, DELIVERED, finished_ms)
        return DELIVERED
    attempt = task.request.retries + 1
    log.info("webhook of job %s, attempt %d of %d: %s", job_id, attempt, ATTEMPTS, failure)
    if attempt < ATTEMPTS:
        raise task.retry(countdown=ctx.settings.webhook_backoff_s * 2**task.request.retries, max_retries=ATTEMPTS - 1)
    outcome = f"failed ({failure})"
    ctx.store.set_webhook_status(job_id, outcome, finished_ms)
    return outcome


def register(celery: JobgateCelery) -> None:
    """Register the delivery task on ``celery``."""
    celery.task(name=WEBHOOK_TASK_NAME, bind=True, ignore_result=True, acks_late=False)(deliver)
