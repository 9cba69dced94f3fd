"""jobgate's own Python client and the ``jobgate run|runsync|status|...`` commands.

It needs ``requests`` and ``app.core`` only: no Flask, no Celery, no Redis.
"""

from .client import ApiError, Client, ClientError, GatewayUnreachable, Job, WaitTimeout

__all__ = ["ApiError", "Client", "ClientError", "GatewayUnreachable", "Job", "WaitTimeout"]
