"""Progress updates from a running handler: RunPod's ``progress_update(job, value)``."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from redis.exceptions import RedisError

from . import process

log = logging.getLogger(__name__)


def progress_update(job: Mapping[str, Any] | str, value: Any) -> bool:
    """Show ``value`` as the running job's ``output`` on /status.

    Works from the handler's pool process (any thread). Returns False when the update was
    ignored: the job has already ended, or the handler is not running in a worker.
    """
    job_id = job if isinstance(job, str) else job["id"]
    worker = process.active()
    if worker is None:
        log.info("progress of %s (not in a worker): %r", job_id, value)
        return False
    try:
        return worker.ctx.store.progress(job_id, value)
    except RedisError as exc:  # progress is advisory: never fail the job for it
        log.warning("cannot record progress of job %s: %s", job_id, exc)
        return False
