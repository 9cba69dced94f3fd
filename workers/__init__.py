"""jobgate workers: the Celery app, the task that runs handlers, and example handlers.

Handlers may call ``progress_update(job, value)`` to show progress on /status.
"""

from .progress import progress_update

__all__ = ["progress_update"]
