"""Time /cancel on a running job: ``python -m bench.cancel [--runs N] [--sigterm]``.

A one-process worker runs ``echo`` jobs sleeping 30 s; each is cancelled once it runs.
For each run it prints the time from the /cancel call to: its answer, /status showing
CANCELLED, the worker's heartbeat showing it idle again, and the next job completed.
``--sigterm`` does the same with Celery's plain revoke(terminate=True) (SIGTERM, the
process is replaced) for comparison. Uses REDIS_URL under the key prefix ``jgbench``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.core.settings import Settings  # noqa: E402

ENDPOINT = "bench-cancel"


def until(predicate, timeout: float = 60.0, interval: float = 0.001):
    deadline = time.perf_counter() + timeout
    while not (value := predicate()):
        if time.perf_counter() > deadline:
            raise TimeoutError("gave up waiting")
        time.sleep(interval)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sigterm", action="store_true", help="cancel with revoke(terminate, SIGTERM)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        endpoints = Path(tmp) / "endpoints.toml"
        endpoints.write_text(f'[endpoints.{ENDPOINT}]\nhandler = "workers.examples:echo"\n')
        settings = Settings.from_env(
            api_keys="bench", endpoints_file=str(endpoints), key_prefix="jgbench", heartbeat_s=1
        )
        env = {
            **os.environ,
            "JOBGATE_ENDPOINTS_FILE": str(endpoints),
            "JOBGATE_KEY_PREFIX": "jgbench",
            "JOBGATE_HEARTBEAT_S": "1",
            "JOBGATE_API_KEYS": "bench",
        }
        name = f"bench-cancel-{os.getpid()}@{socket.gethostname()}"
        log = open(Path(tmp) / "worker.log", "w")
        worker = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", "-c", "1", "-n", name, "-l", "WARNING"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return _measure(settings, name, args)
        finally:
            os.killpg(worker.pid, 15)
            worker.wait(30)
            log.close()


def _measure(settings: Settings, worker_name: str, args: argparse.Namespace) -> int:
    app = create_app(settings)
    gateway = app.extensions["jobgate"]
    redis = gateway.redis
    client = app.test_client()
    auth = {"Authorization": "Bearer bench"}
    base = f"/v2/{ENDPOINT}"
    worker_key = until(lambda: next(redis.scan_iter(f"jgbench:worker:{worker_name}-*"), None), 60, 0.05)
    until(lambda: redis.hget(worker_key, "state") == "idle", 60, 0.05)

    def status(job_id: str) -> str:
        return client.get(f"{base}/status/{job_id}", headers=auth).get_json()["status"]

    answered, cancelled, idle, next_done = [], [], [], []
    for _ in range(args.runs):
        job_id = client.post(f"{base}/run", json={"input": {"sleep": 30}}, headers=auth).get_json()["id"]
        until(lambda: status(job_id) == "IN_PROGRESS")
        pid = redis.hget(worker_key, "pid")
        t0 = time.perf_counter()
        if args.sigterm:
            job = gateway.store.get(job_id)
            gateway.store.cancel(job)
            gateway.celery.control.revoke(job_id, terminate=True, signal="SIGTERM")
            body = {"status": "CANCELLED"}
        else:
            body = client.post(f"{base}/cancel/{job_id}", headers=auth).get_json()
        answered.append(time.perf_counter() - t0)
        assert body["status"] == "CANCELLED", body
        until(lambda: status(job_id) == "CANCELLED")
        cancelled.append(time.perf_counter() - t0)
        until(
            lambda: redis.hget(worker_key, "state") == "idle" and (args.sigterm or redis.hget(worker_key, "pid") == pid)
        )
        idle.append(time.perf_counter() - t0)
        done = client.post(f"{base}/runsync", json={"input": 1}, headers=auth).get_json()
        assert done["status"] == "COMPLETED", done
        next_done.append(time.perf_counter() - t0)

    def line(label: str, xs: list[float]) -> str:
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, int(len(xs) * 0.95))]
        return (
            f"{label:<34} median {statistics.median(xs) * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   "
            f"max {xs[-1] * 1000:8.1f} ms"
        )

    how = "revoke(terminate, SIGTERM)" if args.sigterm else "POST /cancel (stop signal)"
    print(f"{args.runs} running echo jobs (sleep 30 s) cancelled with {how}, one-process worker:")
    print(line("cancel -> answer CANCELLED", answered))
    print(line("cancel -> /status CANCELLED", cancelled))
    print(line("cancel -> worker idle again", idle))
    print(line("cancel -> next job COMPLETED", next_done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
