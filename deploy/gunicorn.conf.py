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

# Errors gunicorn answers before the app (request line too long: 414...) are JSON too.
from app.serving import install_json_errors  # noqa: E402

install_json_errors()
