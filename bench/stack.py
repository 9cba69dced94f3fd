"""Start the processes a benchmark measures: jobgate gateway + worker, raw Celery worker, bare app."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """The running processes and the URLs to reach them."""

    def __init__(self, redis_url: str, logdir: Path, endpoints_file: Path = ROOT / "bench" / "endpoints.toml"):
        self.redis_url = redis_url
        self.logdir = logdir
        self.endpoints_file = endpoints_file
        self.procs: list[subprocess.Popen] = []
        self.gateway = f"http://127.0.0.1:{free_port()}"
        self.bare = f"http://127.0.0.1:{free_port()}"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(
            os.environ,
            REDIS_URL=self.redis_url,
            JOBGATE_API_KEYS=API_KEY,
            JOBGATE_ENDPOINTS_FILE=str(self.endpoints_file),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def spawn(self, name: str, args: list[str], **env: str) -> None:
        log = open(self.logdir / f"{name}.log", "w")
        self.procs.append(
            subprocess.Popen(
                args, cwd=ROOT, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def gunicorn(self, name: str, url: str, target: str, web_workers: int = 1) -> None:
        port = url.rsplit(":", 1)[1]
        self.spawn(
            name,
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", target],
            JOBGATE_HOST="127.0.0.1",
            JOBGATE_PORT=port,
            JOBGATE_WEB_WORKERS=str(web_workers),
        )

    def stop_process(self, proc: subprocess.Popen) -> None:
        """Stop one of the processes (SIGTERM to its group, then SIGKILL)."""
        self.procs.remove(proc)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def running(redis_url: str, logdir: Path) -> Iterator[Stack]:
    """Gateway and bare app (gunicorn, one gevent process each), a jobgate worker and a raw worker.

    Both workers are Celery prefork workers with one pool process, so the two sides
    compare the same amount of worker capacity.
    """
    logdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(redis_url, logdir)
    try:
        stack.gunicorn("gateway", stack.gateway, "app:create_app()")
        stack.gunicorn("bare", stack.bare, "bench.baseline:create_bare_app()")
        stack.spawn("worker", [sys.executable, "-m", "app.cli", "worker", "-e", "echo", "-c", "1", "-l", "WARNING"])
        stack.spawn(
            "raw-worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "bench.baseline",
                "worker",
                "-Q",
                "raw.echo",
                "-c",
                "1",
                "--pool",
                "prefork",
                "-l",
                "WARNING",
            ],
        )
        _wait_http(stack.gateway)
        _wait_http(stack.bare)
        yield stack
    finally:
        stack.stop()
