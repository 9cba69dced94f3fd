"""``jobgate worker``: a Celery worker serving one or more endpoints."""
from __future__ import annotations

import argparse
import os
import socket
import uuid

from app.endpoints import Registry
from app.settings import Settings


def add_parser(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("worker", help="run a worker serving endpoints")
    p.add_argument("--endpoint", "-e", action="append", default=[],
                   help="endpoint id to serve (repeatable; default: every endpoint in the file)")
    p.add_argument("--concurrency", "-c", type=int, default=None,
                   help="pool processes (default: the largest 'concurrency' of the served endpoints)")
    p.add_argument("--name", "-n", default=None, help="Celery node name (default: jobgate-<id>@<host>)")
    p.add_argument("--loglevel", "-l", default=None)
    p.set_defaults(func=run_worker)


def run_worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    registry = Registry.load(settings.endpoints_file)
    ids = args.endpoint or registry.ids()
    unknown = [e for e in ids if e not in registry]
    if unknown:
        raise SystemExit(f"unknown endpoint(s) {', '.join(unknown)}; known: {', '.join(registry.ids())}")
    name = (args.name or f"jobgate-{uuid.uuid4().hex[:6]}@%h").replace("%h", socket.gethostname())
    # Pool processes read these to name themselves and to know what they serve.
    os.environ["JOBGATE_WORKER_NAME"] = name
    os.environ["JOBGATE_WORKER_ENDPOINTS"] = ",".join(ids)
    from . import webhooks
    from .celery_app import make_celery

    celery = make_celery(settings, registry)
    concurrency = args.concurrency or max(registry[e].concurrency for e in ids)
    celery.worker_main([
        # Every worker also delivers webhooks (an attempt holds a process for seconds at most).
        "worker", "-Q", ",".join([*(registry[e].queue for e in ids), webhooks.QUEUE]), "-n", name,
        "-c", str(concurrency), "--pool", "prefork", "-E",
        "--loglevel", args.loglevel or settings.log_level,
    ])
    return 0
