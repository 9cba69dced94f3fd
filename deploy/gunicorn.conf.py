"""gunicorn settings for the gateway: gevent workers, so a waiting /runsync costs a greenlet."""
import multiprocessing
import os

bind = f"{os.environ.get('JOBGATE_HOST', '0.0.0.0')}:{os.environ.get('JOBGATE_PORT', '8000')}"
worker_class = "gevent"
workers = int(os.environ.get("JOBGATE_WEB_WORKERS", min(multiprocessing.cpu_count(), 4)))
# Concurrent requests per worker process; waiting /runsync calls are cheap greenlets.
worker_connections = int(os.environ.get("JOBGATE_WEB_CONNECTIONS", 1000))
# /runsync may hold a request for up to 300 s.
timeout = 330
graceful_timeout = 30
keepalive = 75
accesslog = "-" if os.environ.get("JOBGATE_ACCESS_LOG") else None
errorlog = "-"
loglevel = os.environ.get("JOBGATE_LOG_LEVEL", "info").lower()


def post_worker_init(worker):
    """Start the process's reaper at boot rather than on its first request."""
    gateway = getattr(worker.wsgi, "extensions", {}).get("jobgate")
    if gateway is not None:
        gateway.reaper.ensure_running()
