"""Progress updates from a running handler: RunPod's ``progress_update(job, value)``.

A worker's pool process attaches its job store here when it starts (``attach``); outside
a worker (a handler called from a test or a notebook) an update is logged and ignored.
Nothing here imports the worker's other modules, so handlers and the RunPod shim can import
it freely.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# The running pool process's recorder (job id, value) -> recorded, and the pid it belongs to.
_recorder: tuple[int, Callable[[str, Any], bool]] | None = None


def attach(record: Callable[[str, Any], bool]) -> None:
    """Make this process's updates go to ``record`` (the job store's ``progress``)."""
    global _recorder
    _recorder = (os.getpid(), record)


def progress_update(job: Mapping[str, Any] | str, value: Any) -> bool:
    """Show ``value`` as the running job's ``output`` on /status.

    Works from the handler's pool process (any thread). Returns False when the update was
    ignored: the job has already ended, or the handler is not running in a worker.
    """
    job_id = job if isinstance(job, str) else job["id"]
    if _recorder is None or _recorder[0] != os.getpid():
        log.info("progress of %s (not in a worker): %r", job_id, value)
        return False
    try:
        return _recorder[1](job_id, value)
    except RedisError as exc:  # progress is advisory: never fail the job for it
        log.warning("cannot record progress of job %s: %s", job_id, exc)
        return False
