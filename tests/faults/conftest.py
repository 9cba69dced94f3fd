"""Fault tests: each starts its own gateway (gunicorn) and workers, then kills real processes.

They run on the spare Redis database (or on their own redis-server), with a 1 s heartbeat and
a 1 s reaper interval so that recoveries take seconds. Each test reports its figures
(submitted, completed, failed, lost, time to recover) on stdout and in var/fault-figures.txt.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from redis import Redis

from tests.helpers import API_KEY, ROOT, SPARE_DB, free_port, wait_until, with_db

FAULTS = Path(__file__).resolve().parent
ENDPOINTS = FAULTS / "endpoints.toml"
FIGURES = ROOT / "var" / "fault-figures.txt"
H = {"Authorization": f"Bearer {API_KEY}"}
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if FAULTS in Path(item.fspath).parents:
            item.add_marker(pytest.mark.faults)


def report(test: str, **figures: Any) -> None:
    """Print a fault test's figures and append them to var/fault-figures.txt."""
    line = json.dumps({"test": test, **figures})
    print(f"\nFAULT-FIGURES {line}")
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with open(FIGURES, "a") as out:
        out.write(line + "\n")


def _killpg(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


class Stack:
    """A gateway and named workers on one Redis, as separate real processes."""

    def __init__(self, redis_url: str, logdir: Path, redis: Redis | None = None, **env: str):
        self.redis_url = redis_url
        # A Sentinel URL is not one redis-py's from_url reads: the caller passes its client.
        self.redis = redis if redis is not None else Redis.from_url(redis_url, decode_responses=True)
        self.logdir = logdir
        self.extra_env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gateway: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}
        self.http = requests.Session()

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(
            os.environ,
            REDIS_URL=self.redis_url,
            JOBGATE_ENDPOINTS_FILE=str(ENDPOINTS),
            JOBGATE_API_KEYS=API_KEY,
            JOBGATE_HEARTBEAT_S="1",
            JOBGATE_REAPER_INTERVAL_S="1",
            JOBGATE_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    def _spawn(self, name: str, args: list[str], **env: str) -> subprocess.Popen:
        with open(self.logdir / f"{name}.log", "a") as log:
            return subprocess.Popen(
                args, cwd=ROOT, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log(self, name: str) -> str:
        path = self.logdir / f"{name}.log"
        return path.read_text()[-4000:] if path.exists() else ""

    # -- gateway ---------------------------------------------------------------
    def start_gateway(self) -> None:
        self.gateway = self._spawn(
            "gateway",
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"],
            JOBGATE_HOST="127.0.0.1",
            JOBGATE_PORT=str(self.port),
            JOBGATE_WEB_WORKERS="1",
        )
        if not wait_until(self.answers, 30, 0.1):
            pytest.fail(f"gateway did not start:\n{self.log('gateway')}")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def kill_gateway(self) -> None:
        """SIGKILL gunicorn, master and workers."""
        assert self.gateway is not None
        _killpg(self.gateway, signal.SIGKILL)
        self.gateway.wait(10)
        self.http = requests.Session()  # its kept-alive connections died with it

    # -- workers ---------------------------------------------------------------
    def start_worker(self, name: str, endpoints: Iterable[str], concurrency: int = 1, **env: str) -> subprocess.Popen:
        args = [sys.executable, "-m", "app.cli", "worker", "-c", str(concurrency), "-n", f"{name}@%h"]
        for eid in endpoints:
            args += ["-e", eid]
        proc = self.workers[name] = self._spawn(name, args, **env)
        ready = wait_until(lambda: proc.poll() is not None or len(self.processes(name)) >= concurrency, 60)
        if proc.poll() is not None or not ready:
            pytest.fail(f"worker {name} did not start:\n{self.log(name)}")
        return proc

    def processes(self, name: str) -> dict[str, dict[str, str]]:
        """The worker's pool processes, by worker id, as their heartbeats tell."""
        prefix = f"jg:worker:{name}@"
        return {k[len("jg:worker:") :]: self.redis.hgetall(k) for k in self.redis.scan_iter(prefix + "*")}

    def running(self, name: str) -> dict[str, int]:
        """The jobs the worker's pool processes are running: job id -> process id."""
        return {h["job"]: int(h["pid"]) for h in self.processes(name).values() if h.get("job")}

    def kill_worker(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole worker (main and pool processes), as a lost host."""
        _killpg(self.workers[name], sig)

    # -- client ----------------------------------------------------------------
    def run(self, endpoint: str, job_input: Any, **body: Any) -> str:
        r = self.http.post(f"{self.url}/v2/{endpoint}/run", json={"input": job_input, **body}, headers=H, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def status(self, endpoint: str, job_id: str) -> dict[str, Any]:
        r = self.http.get(f"{self.url}/v2/{endpoint}/status/{job_id}", headers=H, timeout=30)
        return r.json() if r.status_code in (200, 404) else {"status": f"HTTP {r.status_code}"}

    def record(self, job_id: str) -> dict[str, str]:
        return self.redis.hgetall(f"jg:job:{job_id}")

    def wait_ended(self, endpoint: str, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Poll until every job is terminal (or ``timeout``); their last status bodies."""
        last: dict[str, dict[str, Any]] = {}

        def ended() -> bool:
            for job_id in ids:
                if last.get(job_id, {}).get("status") not in TERMINAL:
                    last[job_id] = self.status(endpoint, job_id)
            return all(last[j].get("status") in TERMINAL for j in ids)

        wait_until(ended, timeout, 0.25)
        return last

    def stop(self) -> None:
        procs = [p for p in (self.gateway, *self.workers.values()) if p is not None]
        for proc in procs:
            _killpg(proc, signal.SIGKILL)
        for proc in procs:
            proc.wait(10)


@pytest.fixture
def spare_url(redis_url: str) -> str:
    url = with_db(redis_url, SPARE_DB)
    Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def stack(spare_url: str, tmp_path: Path) -> Iterator[Stack]:
    """A gateway on the spare database; tests start the workers they need."""
    s = Stack(spare_url, tmp_path)
    s.start_gateway()
    yield s
    s.stop()


def counts(statuses: dict[str, dict[str, Any]]) -> dict[str, int]:
    """completed / failed / lost of a set of jobs, from their status bodies."""
    values = [body.get("status") for body in statuses.values()]
    return {
        "submitted": len(values),
        "completed": values.count("COMPLETED"),
        "failed": sum(v in ("FAILED", "TIMED_OUT") for v in values),
        "lost": sum(v not in TERMINAL for v in values),
    }


def since(t0: float) -> float:
    return round(time.monotonic() - t0, 2)
