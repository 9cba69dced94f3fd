"""A worker node's own observations: each job's log context and events, and its metrics.

Pool processes record into prometheus-client's multiprocess files, in a directory made fresh
for this node; the node's main process serves their sum on ``JOBGATE_WORKER_METRICS_PORT``.
Fleet-wide numbers (queue depth, every job's outcome) are the gateway's ``/metrics``.
"""

from __future__ import annotations

import atexit
import glob
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_process_init, worker_process_shutdown

from app.core import logs
from app.core.contract import TASK_NAME
from app.core.settings import DEFAULT_HOST
from app.store.metrics import EXECUTION_BUCKETS_S

from . import process
from .celery_base import JobgateCelery

log = logging.getLogger("jobgate.worker")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_storage(enabled: bool) -> str | None:
    """Choose where pool processes keep metrics; must run before prometheus-client is imported.

    prometheus-client picks its storage once, at import: files shared by the pool processes
    when metrics are served, plain memory otherwise (an inherited directory is never reused,
    since another node's files would mix with ours).
    """
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before the worker chose its metrics storage")
    os.environ.pop(MULTIPROC_ENV, None)
    if not enabled:
        return None
    path = tempfile.mkdtemp(prefix="jobgate-metrics-")
    os.environ[MULTIPROC_ENV] = path
    atexit.register(shutil.rmtree, path, True)
    return path


class _RetryingCollector:
    """Reads the pool processes' metric files again when one vanished mid-read.

    A pool process that is recycled or swept (sweep_dead_processes) can lose its file
    between the collector listing the directory and opening it; the scrape must not fail.
    """

    def __init__(self, inner: Any, attempts: int = 3):
        self.inner = inner
        self.attempts = attempts

    def collect(self) -> Any:
        for attempt in range(self.attempts):
            try:
                return list(self.inner.collect())
            except FileNotFoundError:
                if attempt == self.attempts - 1:
                    raise
        return []


def serve(port: int, host: str = DEFAULT_HOST) -> int:
    """Serve this node's metrics on ``port``; the port, or 0 when it cannot be bound."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    registry.register(_RetryingCollector(MultiProcessCollector(None)))
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        # Several workers on one host with one port: the first serves, the others say so.
        log.warning(
            "worker metrics port %d unavailable (%s); this worker serves no metrics",
            port,
            exc,
            extra={"event": "worker.metrics_off"},
        )
        return 0
    log.info("worker metrics on port %d", port, extra={"event": "worker.metrics_on"})
    return port


def sweep_dead_processes() -> None:
    """Drop the live gauges of pool processes that died without a shutdown (hard time limit, OOM)."""
    from prometheus_client import multiprocess

    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        pid = int(path.rsplit("_", 1)[1].split(".")[0])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, someone else's


class JobObserver:
    """Hooks Celery's task signals: binds each job's log fields, logs it, counts and times it."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.jobs = Counter(
            "jobgate_worker_jobs", "Jobs this node ran, by outcome", ["endpoint", "status"], registry=None
        )
        self.execution = Histogram(
            "jobgate_worker_job_execution_seconds",
            "Time jobs ran on this node",
            ["endpoint"],
            buckets=EXECUTION_BUCKETS_S,
            registry=None,
        )
        self.busy = Gauge(
            "jobgate_worker_busy_processes", "Pool processes running a job", registry=None, multiprocess_mode="livesum"
        )
        # A prefork pool process is one slot; a concurrent process has as many as it takes jobs at once.
        self.busy_slots = Gauge(
            "jobgate_worker_busy_slots", "Job slots in use (jobs running)", registry=None, multiprocess_mode="livesum"
        )
        self.slots = Gauge(
            "jobgate_worker_slots",
            "Job slots (jobs the processes take at once)",
            registry=None,
            multiprocess_mode="livesum",
        )
        self.processes = Gauge(
            "jobgate_worker_process_info",
            "Live pool processes and their GPU",
            ["worker_id", "gpu", "gpu_name"],
            registry=None,
            multiprocess_mode="livemax",
        )
        self._running: dict[str, tuple[float, Any]] = {}

    def install(self, celery: JobgateCelery) -> None:
        """Connect to the signals of ``celery``'s workers (before the pool forks)."""
        task_prerun.connect(self._prerun, weak=False)
        task_postrun.connect(self._postrun, weak=False)

        def on_process_init(**_: Any) -> None:
            sweep_dead_processes()
            self.process_started(process.current(celery.context))

        def on_process_shutdown(**_: Any) -> None:
            from prometheus_client import multiprocess

            if os.environ.get(MULTIPROC_ENV):
                multiprocess.mark_process_dead(os.getpid())

        worker_process_init.connect(on_process_init, weak=False)
        worker_process_shutdown.connect(on_process_shutdown, weak=False)

    def process_started(self, worker: process.WorkerProcess) -> None:
        """A pool process (or a concurrent node's one process) is up: its GPU and its slots."""
        gpu = worker.gpu
        self.processes.labels(worker.id, "" if gpu is None else str(gpu.index), "" if gpu is None else gpu.name).set(1)
        self.slots.set(worker.max_concurrency)

    def _prerun(self, task_id: str, task: Any, args: Any = (), **_: Any) -> None:
        if task.name != TASK_NAME or not args:
            return
        worker = process.current(task.app.context)
        token = logs.bind(endpoint=args[0], job_id=task_id, worker_id=worker.id)
        self._running[task_id] = (time.monotonic(), token)
        self.busy.inc()
        self.busy_slots.inc()
        log.info("job received", extra={"event": "job.received"})

    def _postrun(self, task_id: str, task: Any, args: Any = (), retval: Any = None, **_: Any) -> None:
        started = self._running.pop(task_id, None)
        if task.name != TASK_NAME or not args or started is None:
            return
        began, token = started
        seconds = time.monotonic() - began
        # A job that did not complete ends its task with an exception naming its status (workers/outcomes.py).
        status = retval if isinstance(retval, str) else getattr(retval, "status", "ERROR")
        self.busy.dec()
        self.busy_slots.dec()
        self.slots.set(process.current(task.app.context).max_concurrency)  # a concurrency_modifier may change it
        self.jobs.labels(args[0], status).inc()
        if status != "SKIPPED":
            self.execution.labels(args[0]).observe(seconds)
        log.info(
            "job finished: %s in %.3f s",
            status,
            seconds,
            extra={"event": "job.finished", "status": status, "seconds": round(seconds, 3)},
        )
        logs.unbind(token)
