"""``jobgate worker``: a Celery worker serving one or more endpoints, optionally one GPU per process."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from app.core.contract import WEBHOOK_QUEUE
from app.core.endpoints import Endpoint, Registry
from app.core.settings import Settings

from . import gpus

if TYPE_CHECKING:
    from . import telemetry
    from .celery_base import JobgateCelery

log = logging.getLogger("jobgate.worker")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``jobgate worker`` to the command's subparsers."""
    p = sub.add_parser("worker", help="run a worker serving endpoints")
    p.add_argument(
        "--endpoint",
        "-e",
        action="append",
        default=[],
        help="endpoint id to serve (repeatable; default: every endpoint in the file)",
    )
    p.add_argument(
        "--concurrency",
        "-c",
        type=int,
        default=None,
        help="pool processes (default: one per GPU with --gpus, else the largest "
        "'concurrency' of the served endpoints)",
    )
    p.add_argument(
        "--gpus",
        default=None,
        help="'all' or GPU indexes such as 0,1,2,3: one pool process per GPU, each seeing "
        "only its own; 'slot': the one GPU of this worker's slot (honcho's worker.N "
        "takes GPU N-1) (default: JOBGATE_GPUS; none: no pinning)",
    )
    p.add_argument(
        "--name", "-n", default=None, help="Celery node name (default: jobgate-<honcho process or random id>@<host>)"
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve this node's Prometheus metrics here (default: JOBGATE_WORKER_METRICS_PORT; 0: off)",
    )
    p.add_argument(
        "--max-tasks-per-child",
        type=int,
        default=None,
        help="replace a pool process after this many jobs (it keeps its GPU)",
    )
    p.add_argument("--loglevel", "-l", default=None)
    p.set_defaults(func=run_worker)


def node_name(explicit: str | None) -> str:
    """Distinct per worker: honcho's process name (worker.1, worker.2, ...) or a random id."""
    slot = os.environ.get("HONCHO_PROCESS_NAME") or uuid.uuid4().hex[:6]
    return (explicit or f"jobgate-{slot}@%h").replace("%h", socket.gethostname())


def worker_slot(settings: Settings, environ: Mapping[str, str]) -> int:
    """This worker's 0-based place among its siblings: JOBGATE_WORKER_SLOT, or honcho's worker.N."""
    raw = settings.worker_slot
    if not raw:
        number = environ.get("HONCHO_PROCESS_NAME", "").rpartition(".")[2]
        raw = str(int(number) - 1) if number.isdigit() and int(number) > 0 else ""
    if not raw.isdigit():
        raise gpus.GPUSpecError("--gpus slot needs JOBGATE_WORKER_SLOT (0, 1, ...) or honcho's worker.N")
    return int(raw)


def plan_gpus(
    spec: str, settings: Settings, concurrency: int | None, environ: Mapping[str, str] = os.environ
) -> tuple[list[gpus.GPU], int | None]:
    """The GPUs to pin and the pool size; no GPUs when ``spec`` is empty or finds none."""
    if not spec:
        return [], concurrency
    found, reason = gpus.inventory(settings.gpu_inventory)
    if spec.strip() == "slot":
        slot = worker_slot(settings, environ)
        if found and slot >= len(found):
            raise gpus.GPUSpecError(f"--gpus slot: slot {slot} but {len(found)} GPU(s) on this host")
        spec = str(found[slot].index) if found else "all"
    chosen = gpus.select(spec, found)
    if not chosen:
        log.warning(
            "--gpus %s: no GPU found (%s); running on the CPU", spec, reason, extra={"event": "worker.cpu_fallback"}
        )
        return [], concurrency
    size = concurrency or len(chosen)
    if size % len(chosen):
        raise gpus.GPUSpecError(f"--concurrency {size} must be a multiple of the {len(chosen)} GPU(s)")
    log.info(
        "pinning %d pool process(es) to GPU(s) %s",
        size,
        ", ".join(f"{g.index} ({g.name})" for g in chosen),
        extra={"event": "worker.gpus"},
    )
    return chosen, size


def pool_limits(endpoints: Iterable[Endpoint]) -> list[str]:
    """Celery's process-recycling options for a worker serving ``endpoints``: the strictest
    ``max_tasks_per_child`` / ``max_memory_per_child`` (KiB) any of them sets."""
    endpoints = list(endpoints)
    args: list[str] = []
    for option, attr in (
        ("--max-tasks-per-child", "max_tasks_per_child"),
        ("--max-memory-per-child", "max_memory_per_child"),
    ):
        values = [getattr(e, attr) for e in endpoints if getattr(e, attr) is not None]
        if values:
            args += [option, str(min(values))]
    return args


def run_worker(args: argparse.Namespace) -> int:
    """Run a Celery worker (prefork) serving the chosen endpoints, until it is stopped."""
    settings = Settings.from_env()
    port = settings.worker_metrics_port if args.metrics_port is None else args.metrics_port
    from . import telemetry  # no prometheus-client import yet: storage is chosen first

    telemetry.prepare_storage(enabled=port > 0)
    from celery.signals import setup_logging

    from app.core import logs

    try:
        logs.configure(settings.log_format, args.loglevel or settings.log_level)
    except ValueError as exc:
        raise SystemExit(f"jobgate worker: {exc}") from None

    def keep_our_logging(**_: Any) -> None:
        """Connected, so Celery leaves logging as configured above."""

    setup_logging.connect(keep_our_logging, weak=False)

    registry = Registry.load(settings.endpoints_file)
    ids = args.endpoint or registry.ids()
    unknown = [e for e in ids if e not in registry]
    if unknown:
        raise SystemExit(f"unknown endpoint(s) {', '.join(unknown)}; known: {', '.join(registry.ids())}")
    served = [registry[e] for e in ids]
    # Endpoints that run many jobs per process: one process (Celery's thread pool) per GPU.
    concurrent = any(e.is_concurrent for e in served)
    try:
        chosen, concurrency = plan_gpus(settings.gpus if args.gpus is None else args.gpus, settings, args.concurrency)
    except gpus.GPUSpecError as exc:
        raise SystemExit(f"jobgate worker: {exc}") from None
    if concurrent and (args.concurrency or 1) > 1:
        raise SystemExit(
            f"jobgate worker: {', '.join(e.id for e in served if e.is_concurrent)} set max_concurrency or batch, "
            "so a worker is one process running many jobs: --concurrency cannot be above 1 (start more workers)"
        )
    name = node_name(args.name)
    if concurrent and len(chosen) > 1:
        port = settings.worker_metrics_port if args.metrics_port is None else args.metrics_port
        return _node_per_gpu(args, ids, chosen, name, port)
    # Pool processes read these to name themselves, to know what they serve and their GPU.
    os.environ["JOBGATE_WORKER_NAME"] = name
    os.environ["JOBGATE_WORKER_ENDPOINTS"] = ",".join(ids)
    if chosen:
        os.environ[gpus.ASSIGNMENT_ENV] = gpus.assignment(chosen)
    else:
        os.environ.pop(gpus.ASSIGNMENT_ENV, None)
    settings = settings.replace(worker_metrics_port=telemetry.serve(port, settings.host) if port > 0 else 0)
    # SIGTERM starts Celery's cold shutdown, whose soft phase lets running jobs go on for
    # JOBGATE_WORKER_GRACE_S and then requeues them (a plain warm shutdown would wait forever).
    # Pool processes then ignore SIGTERM, so one sent to the whole process group (systemd,
    # honcho) does not kill running jobs either. Read by billiard at import: set it first.
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    from app.store.context import Context

    from .celery_app import WORKER_REDIS_PATIENCE_S, make_celery

    celery = make_celery(Context(settings, registry, redis_patience_s=WORKER_REDIS_PATIENCE_S))
    observer = telemetry.JobObserver()
    observer.install(celery)
    pool = ["--pool", "prefork"]
    if concurrent:
        concurrency, pool = _concurrent_node(celery, served, observer), []
    concurrency = concurrency or max(registry[e].concurrency for e in ids)
    # Every worker also delivers webhooks (an attempt holds a process for seconds at most).
    argv = [
        "worker",
        "-Q",
        ",".join([*(registry[e].queue for e in ids), WEBHOOK_QUEUE]),
        "-n",
        name,
        "-c",
        str(concurrency),
        *pool,
        *([] if concurrent else ["-E"]),
        "--loglevel",
        args.loglevel or settings.log_level,
    ]
    # Process recycling: the endpoints' strictest limits; --max-tasks-per-child overrides theirs.
    limits = pool_limits(registry[e] for e in ids)
    if args.max_tasks_per_child:
        if "--max-tasks-per-child" in limits:
            del limits[limits.index("--max-tasks-per-child") : limits.index("--max-tasks-per-child") + 2]
        limits += ["--max-tasks-per-child", str(args.max_tasks_per_child)]
    argv += limits
    if settings.log_format == "json":
        argv = ["--quiet", *argv]  # the banner is not a JSON line
    celery.start(argv)
    return 0


def _concurrent_node(celery: JobgateCelery, served: list[Endpoint], observer: telemetry.JobObserver) -> int:
    """Set up this process as the one worker of a concurrent node; returns its pool size."""
    from celery.signals import worker_shutdown

    from app.core.endpoints import EndpointConfigError

    from . import concurrent, pool, process

    ctx = celery.context
    worker = process.current(ctx)  # pins the GPU before any handler is imported
    runner = worker.runner = concurrent.Runner(served, ctx.settings.stop_grace_s)
    worker.load_handlers()
    try:
        runner.prepare(worker.handlers, str(ctx.registry.path or "the endpoints file"))
    except EndpointConfigError as exc:
        raise SystemExit(f"jobgate worker: {exc}") from None
    observer.process_started(worker)
    celery.conf.worker_pool = pool.POOL
    # Task events cost three Redis publishes per job, more than a short job itself at hundreds of jobs
    # a second: off here unless Flower (or `celery control enable_events`) turns them on.
    celery.conf.worker_send_task_events = False
    celery.steps["consumer"].add(pool.SlotsStep)
    worker_shutdown.connect(lambda **_: worker.stop(), weak=False)
    log.info(
        "one process runs up to %d jobs at once (%s)",
        runner.capacity.limit,
        ", ".join(f"{e.id}: {e.max_concurrency}" + (f" x batch {e.batch.max_size}" if e.batch else "") for e in served),
        extra={"event": "worker.concurrent"},
    )
    return runner.capacity.ceiling + pool.SPARE_THREADS


def _node_per_gpu(args: argparse.Namespace, ids: list[str], chosen: list[gpus.GPU], name: str, port: int) -> int:
    """Several GPUs for endpoints running many jobs per process: one concurrent node per GPU.

    Each child is ``jobgate worker --gpus <index>`` in a session of its own, named
    ``<node>-gpu<index>@<host>``; this process forwards SIGTERM/SIGINT/SIGQUIT to each once
    (so each keeps its grace) and exits when all have.
    """
    import signal
    import subprocess
    import sys

    node, _, host = name.partition("@")
    children = []
    for k, gpu in enumerate(chosen):
        argv = [sys.executable, "-m", "app.cli", "worker", "--gpus", str(gpu.index)]
        argv += ["-n", f"{node}-gpu{gpu.index}@{host}", "--metrics-port", str(port + k if port > 0 else 0)]
        for eid in ids:
            argv += ["-e", eid]
        if args.loglevel:
            argv += ["-l", args.loglevel]
        children.append(subprocess.Popen(argv, start_new_session=True))
    log.info("one concurrent node per GPU: %d nodes", len(children), extra={"event": "worker.node_per_gpu"})

    def forward(signum: int, _: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, forward)
    return max(child.wait() for child in children)
