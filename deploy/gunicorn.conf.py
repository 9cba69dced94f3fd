"""gunicorn settings for the gateway: gevent workers, so a waiting /runsync costs a greenlet."""

import multiprocessing
import os

# Loopback unless JOBGATE_HOST says otherwise (the deploy files set 0.0.0.0); app.core.settings.DEFAULT_HOST.
bind = f"{os.environ.get('JOBGATE_HOST') or '127.0.0.1'}:{os.environ.get('JOBGATE_PORT') or '8000'}"
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
log_format = os.environ.get("JOBGATE_LOG_FORMAT") or "json"
# The master's own lines. It must not import the app (gevent patches the workers after the
# fork, and modules imported before that are left unpatched), so this names classes only;
# each worker then applies app.logs, which adds the endpoint / job_id fields.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "main": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{levelname}{name}{message}",
            "style": "{",
            "timestamp": "time",
            "rename_fields": {"levelname": "level", "name": "logger"},
        }
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "main"}},
    "root": {"level": loglevel.upper(), "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"handlers": [], "propagate": True},
        # Access lines are INFO: logged only when JOBGATE_ACCESS_LOG asks for them.
        "gunicorn.access": {"level": "INFO" if accesslog else "WARNING", "handlers": [], "propagate": True},
    },
}


def post_worker_init(worker):
    from app.api.serving import install_json_errors
    from app.core.logs import configure

    configure(log_format, loglevel, access_log=bool(accesslog))
    # Errors gunicorn answers before the app (request line too long: 414...) are JSON too.
    install_json_errors()
    # Start the process's reaper at boot rather than on its first request.
    gateway = getattr(worker.wsgi, "extensions", {}).get("jobgate")
    if gateway is not None:
        gateway.reaper.ensure_running()
