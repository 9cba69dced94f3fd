"""`python -m bench.sentinel`: what Sentinel and JOBGATE_REDIS_MIN_REPLICAS cost a /run.

A master, one replica and three sentinels on this machine (the fault tests' cluster), a gateway
and a worker on ``redis+sentinel://``; sequential /run round trips, p50 / p99, with
JOBGATE_REDIS_MIN_REPLICAS=0 and =1 (a WAIT for the replica on every submission).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.faults.sentinel import SentinelCluster  # the same cluster the fault test kills

from .stack import API_KEY, Stack, _wait_http


def run_latencies(url: str, n: int) -> list[float]:
    http = requests.Session()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for _ in range(20):  # warm up: connections, scripts loaded
        http.post(f"{url}/v2/echo/run", json={"input": 0}, headers=headers, timeout=30)
    took = []
    for i in range(n):
        t = time.perf_counter()
        r = http.post(f"{url}/v2/echo/run", json={"input": i}, headers=headers, timeout=30)
        took.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    return took


def measure(min_replicas: int, n: int, root: Path) -> tuple[float, float]:
    cluster = SentinelCluster(root / f"redis-{min_replicas}")
    cluster.start()
    stack = Stack(cluster.url, root / f"logs-{min_replicas}")
    stack.logdir.mkdir(parents=True, exist_ok=True)
    try:
        port = stack.gateway.rsplit(":", 1)[1]
        replicas = str(min_replicas)
        stack.spawn(
            "gateway",
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"],
            JOBGATE_HOST="127.0.0.1",
            JOBGATE_PORT=port,
            JOBGATE_WEB_WORKERS="1",
            JOBGATE_REDIS_MIN_REPLICAS=replicas,
        )
        stack.spawn("worker", [sys.executable, "-m", "app.cli", "worker", "-e", "echo", "-c", "1", "-l", "WARNING"])
        _wait_http(stack.gateway)
        took = sorted(run_latencies(stack.gateway, n))
        return statistics.median(took), took[int(len(took) * 0.99) - 1]
    finally:
        stack.stop()
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sentinel")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="jobgate-bench-sentinel-"))
    print(f"jobgate bench: /run through Sentinel, {args.requests} sequential requests, logs in {root}")
    for min_replicas in (0, 1):
        p50, p99 = measure(min_replicas, args.requests, root)
        print(f"  JOBGATE_REDIS_MIN_REPLICAS={min_replicas}: /run p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
