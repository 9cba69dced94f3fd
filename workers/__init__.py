"""jobgate workers: the Celery app, the task that runs handlers, and example handlers."""
