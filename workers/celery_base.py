"""The workers' Celery app class: a Celery app that carries the context its tasks run with.

Its own module so that the tasks can name the type without importing the module that
registers them (``celery_app``).
"""

from __future__ import annotations

from celery import Celery

from app.store.context import Context


class JobgateCelery(Celery):
    """A Celery app that carries the context its tasks run with."""

    def __init__(self, context: Context):
        super().__init__("jobgate", set_as_current=False)
        self.context = context
