"""This pool process as a worker: its id, its loaded handlers, its heartbeat thread."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from app.core.clock import now_ms
from app.store.context import Context
from app.store.fleet import job_fields

from . import gpus, progress
from .loader import Handler, HandlerLoadError, load_handler
from .outputs import OutputChecker, OutputRefused
from .stopper import OUTPUT_REFUSED, Stopper

if TYPE_CHECKING:
    from .concurrent import Runner

log = logging.getLogger(__name__)
# A concurrent process writes its jobs' list at most this often (the heartbeat also carries it).
STATE_COALESCE_S = 0.05


def node_name() -> str:
    """The Celery node this process belongs to (set by ``jobgate worker``)."""
    return os.environ.get("JOBGATE_WORKER_NAME") or f"jobgate@{socket.gethostname()}"


def served_endpoints(registry_ids: list[str]) -> list[str]:
    raw = os.environ.get("JOBGATE_WORKER_ENDPOINTS", "")
    chosen = [e for e in raw.split(",") if e]
    return chosen or registry_ids


class WorkerProcess:
    """One pool process: pinned to its GPU, loads handlers once, beats, and reports its state."""

    def __init__(self, ctx: Context, index: int):
        self.ctx = ctx
        self.id = f"{node_name()}-{index}"
        self.pid = os.getpid()
        # Before anything imports a handler (and with it, perhaps, CUDA).
        self.gpu = gpus.pin(index)
        if self.gpu is not None:
            log.info(
                "pool process %d pinned to GPU %d (%s)",
                index,
                self.gpu.index,
                self.gpu.name,
                extra={"event": "worker.pinned", "worker_id": self.id},
            )
        self.endpoints = served_endpoints(ctx.registry.ids())
        self.state = "initializing"
        # The jobs this process runs now (id -> endpoint), of how many at once.
        self.jobs: dict[str, str] = {}
        self._jobs_lock = threading.Lock()
        # A concurrent process's shared machinery (event loop, slots, batches); None in prefork.
        self.runner: Runner | None = None
        self._dirty = threading.Event()
        self._reporter: threading.Thread | None = None
        self.stopper = Stopper(ctx.settings.stop_grace_s, ctx.store.remove)
        self.outputs = OutputChecker(ctx.settings)
        # Why a running job must fail, when a progress value of it was refused (see fail_job).
        self._refusals: dict[str, OutputRefused] = {}
        self.handlers: dict[str, Handler] = {}
        self.load_errors: dict[str, str] = {}
        # Set by a job that asks for a fresh process (RunPod's refresh_worker).
        self.recycle_requested = False
        self._stop = threading.Event()

    def load_handlers(self) -> None:
        """Import every served endpoint's handler now, so the first job pays nothing."""
        for eid in self.endpoints:
            try:
                self.handler(eid)
            except HandlerLoadError:
                pass  # recorded in load_errors; this endpoint's jobs fail with the reason
        self.set_state("idle")

    def handler(self, eid: str) -> Handler:
        if eid not in self.handlers:
            try:
                self.handlers[eid] = load_handler(self.ctx.registry[eid])
                self.load_errors.pop(eid, None)
            except HandlerLoadError as exc:
                log.error("%s", exc)
                self.load_errors[eid] = str(exc)
                raise
        return self.handlers[eid]

    def record_progress(self, job_id: str, value: Any) -> bool:
        """progress_update's recorder: the value checked, then stored; a value that is not JSON
        fails the job (the update returns False when it comes from another thread)."""
        try:
            text = self.outputs.progress(value)
        except OutputRefused as refused:
            self.fail_job(job_id, refused)
            return False
        return self.ctx.store.progress(job_id, text)

    def fail_job(self, job_id: str, refused: OutputRefused) -> None:
        """Stop the running job ``job_id`` so that it ends FAILED with ``refused``'s error."""
        with self._jobs_lock:
            if job_id not in self.jobs:
                return
            self._refusals[job_id] = refused
        if self.runner is not None:  # one of many: stop that job alone
            self.runner.stop(job_id, OUTPUT_REFUSED)
            return
        if threading.current_thread() is threading.main_thread():
            self.stopper.interrupt(OUTPUT_REFUSED)  # raises JobStopped here, in the handler
        self.stopper.stop(job_id, OUTPUT_REFUSED)

    def take_refusal(self, job_id: str) -> OutputRefused | None:
        """The refusal that stopped the job, once (None when it stopped for another reason)."""
        with self._jobs_lock:
            return self._refusals.pop(job_id, None)

    @property
    def max_concurrency(self) -> int:
        """Jobs this process takes at once now (1 in a prefork pool process)."""
        return self.runner.capacity.limit if self.runner is not None else 1

    def set_state(self, state: str) -> None:
        with self._jobs_lock:
            self.state = state
        self._changed()

    def job_started(self, job_id: str, endpoint: str) -> None:
        """Heartbeats list this job from now on."""
        with self._jobs_lock:
            self.jobs[job_id] = endpoint
            self.state = "running"
        self._changed()

    def job_ended(self, job_id: str) -> None:
        with self._jobs_lock:
            self.jobs.pop(job_id, None)
            self.state = "running" if self.jobs else "idle"
        self._changed()

    def _changed(self) -> None:
        if self.runner is None:
            with self._jobs_lock:  # one job at a time: written at once, as it happens
                self._report()
            return
        # Many jobs start and end each second: one writer thread sends the latest state, coalesced.
        if self._reporter is None:
            self._reporter = threading.Thread(target=self._report_changes, name="jobgate-state", daemon=True)
            self._reporter.start()
        self._dirty.set()

    def _report_changes(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            self._dirty.clear()
            with self._jobs_lock:
                self._report()
            self._stop.wait(STATE_COALESCE_S)

    def _report(self) -> None:
        # Under the lock, so that the last write is the latest state.
        try:
            self.ctx.fleet.set_state(
                self.id, self.state, broken=",".join(self.load_errors), **job_fields(self.jobs, self.max_concurrency)
            )
        except Exception as exc:  # a heartbeat must never fail a job
            log.warning("cannot record worker state: %s", exc)

    def beat(self) -> None:
        self.ctx.fleet.beat(
            self.id,
            self.endpoints,
            now_ms(),
            state=self.state,
            **job_fields(dict(self.jobs), self.max_concurrency),
            host=socket.gethostname(),
            pid=self.pid,
            node=node_name(),
            broken=",".join(self.load_errors),
            gpu=self.gpu.to_dict() if self.gpu else "",
            metrics_port=self.ctx.settings.worker_metrics_port,
        )

    def start_heartbeat(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.beat()
                except Exception as exc:
                    log.warning("heartbeat failed: %s", exc)
                self._stop.wait(self.ctx.settings.heartbeat_s)

        threading.Thread(target=loop, name="jobgate-heartbeat", daemon=True).start()

    def recycle(self) -> None:
        """End this pool process after its job; Celery's pool starts a fresh one in its place.

        Called at the very end of the task, once the job's outcome is recorded.
        """
        from .recycle import exit_for_recycle

        log.info("worker %s recycles its process (refresh_worker)", self.id)
        exit_for_recycle()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.ctx.fleet.gone(self.id, self.endpoints)
        except Exception:
            pass


_current: WorkerProcess | None = None


def active() -> WorkerProcess | None:
    """This process's WorkerProcess when it is a worker (None elsewhere, e.g. local tests)."""
    return _current if _current is not None and _current.pid == os.getpid() else None


def current(ctx: Context) -> WorkerProcess:
    """This process's WorkerProcess, made on first use (also in solo/thread pools)."""
    global _current
    if _current is None or _current.pid != os.getpid():
        try:
            from billiard.process import current_process

            index = getattr(current_process(), "index", 0) or 0
        except Exception:
            index = 0
        _current = WorkerProcess(ctx, index)
        _current.start_heartbeat()
        progress.attach(_current.record_progress)
    return _current
