"""Recycling a pool process after a job (RunPod's ``refresh_worker``), through Celery's own pool.

The task raises ``SystemExit(EX_RECYCLE)`` once the job's outcome is recorded. billiard
reports that exit as the task's result and leaves its work loop; the parent then starts
a replacement process. Celery would take any child exit for a lost worker (an error log,
the message requeued), so the task's Request class recognises this one exit and
acknowledges the message as done instead.
"""

from __future__ import annotations

from typing import Any

from billiard.einfo import ExceptionWithTraceback
from billiard.pool import EX_RECYCLE
from celery.worker import state
from celery.worker.request import Request


def exit_for_recycle() -> None:
    """Leave this pool process after the current task (call at the very end of the task)."""
    raise SystemExit(EX_RECYCLE)


def _is_recycle(exc: BaseException) -> bool:
    if isinstance(exc, ExceptionWithTraceback):
        exc = exc.exc
    return isinstance(exc, SystemExit) and exc.code == EX_RECYCLE


class RecyclingRequest(Request):
    """A task request for which a deliberate recycle exit is a finished task, not a lost worker."""

    def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> None:
        if _is_recycle(exc_info.exception):
            state.task_ready(self)
            self.acknowledge()
            self.send_event("task-succeeded", result="recycled", runtime=0)
            return None
        return super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)
