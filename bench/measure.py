"""The three measurements of the core: round trip, submission throughput, waiting capacity."""

from __future__ import annotations

import concurrent.futures as cf
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

import requests
from redis import Redis

from .baseline import ECHO_QUEUE, SINK_QUEUE, make_raw_celery
from .stack import API_KEY, Stack

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class RoundTrip:
    jobgate_p50_ms: float
    jobgate_p99_ms: float
    celery_p50_ms: float
    celery_p99_ms: float


def roundtrip(stack: Stack, n: int = 200) -> RoundTrip:
    """n sequential /runsync calls on echo against n raw apply_async().get() round trips."""
    session = requests.Session()
    raw = make_raw_celery(stack.redis_url)
    for i in range(10):  # warm both paths: connections, imports, the worker's first job
        session.post(f"{stack.gateway}/v2/echo/runsync", json={"input": {"i": i}}, headers=AUTH, timeout=30)
        raw.send_task("raw.echo", args=[{"i": i}], queue=ECHO_QUEUE).get(timeout=30)
    ours, theirs = [], []
    for i in range(n):
        t0 = time.perf_counter()
        r = session.post(f"{stack.gateway}/v2/echo/runsync", json={"input": {"i": i}}, headers=AUTH, timeout=30)
        ours.append((time.perf_counter() - t0) * 1000)
        assert r.json()["status"] == "COMPLETED", r.text
        t0 = time.perf_counter()
        raw.send_task("raw.echo", args=[{"i": i}], queue=ECHO_QUEUE).get(timeout=30)
        theirs.append((time.perf_counter() - t0) * 1000)
    return RoundTrip(pct(ours, 50), pct(ours, 99), pct(theirs, 50), pct(theirs, 99))


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"input": {"x": 1}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def load_tool() -> str:
    return "wrk" if shutil.which("wrk") else "python-threads"


def _rps_wrk(url: str, connections: int, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_WRK_SCRIPT % API_KEY)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", f.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} failed requests\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def _rps_python(url: str, connections: int, seconds: int) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * connections

    def loop(k: int) -> None:
        s = requests.Session()
        while time.monotonic() < stop:
            s.post(url, json={"input": {"x": 1}}, headers=AUTH, timeout=10).raise_for_status()
            counts[k] += 1

    threads = [threading.Thread(target=loop, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def throughput(stack: Stack, connections: int = 32, seconds: int = 10) -> tuple[float, float]:
    """/run requests per second against a bare Flask route that only calls apply_async."""
    measure = _rps_wrk if load_tool() == "wrk" else _rps_python
    ours = measure(f"{stack.gateway}/v2/sink/run", connections, seconds)
    theirs = measure(f"{stack.bare}/run", connections, seconds)
    requests.post(f"{stack.gateway}/v2/sink/purge-queue", headers=AUTH, timeout=60)
    Redis.from_url(stack.redis_url).delete(SINK_QUEUE)
    return ours, theirs


@dataclass
class Waiting:
    held: int
    status_p50_ms: float
    status_p99_ms: float
    idle_status_p50_ms: float
    idle_status_p99_ms: float


def _status_latencies(stack: Stack, job_id: str, n: int) -> list[float]:
    s = requests.Session()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.get(f"{stack.gateway}/v2/echo/status/{job_id}", headers=AUTH, timeout=10).raise_for_status()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def waiting(stack: Stack, callers: int = 400, n_status: int = 200) -> Waiting:
    """Hold ``callers`` waiting /runsync calls; measure /status meanwhile, and without them."""
    job_id = requests.post(f"{stack.gateway}/v2/echo/runsync", json={"input": 1}, headers=AUTH, timeout=30).json()["id"]
    idle = _status_latencies(stack, job_id, n_status)
    hold_ms = 60_000

    def call(_: int) -> str:
        r = requests.post(
            f"{stack.gateway}/v2/sink/runsync?wait={hold_ms}",
            json={"input": 1},
            headers=AUTH,
            timeout=hold_ms / 1000 + 30,
        )
        return r.json()["status"]

    with cf.ThreadPoolExecutor(callers) as pool:
        futures = [pool.submit(call, i) for i in range(callers)]
        deadline = time.monotonic() + 30
        held = 0
        while time.monotonic() < deadline and held < callers:
            time.sleep(0.5)
            held = requests.get(f"{stack.gateway}/v2/sink/health", headers=AUTH, timeout=10).json()["jobs"]["inQueue"]
        busy = _status_latencies(stack, job_id, n_status)
        still_held = sum(not f.done() for f in futures)
        requests.post(f"{stack.gateway}/v2/sink/purge-queue", headers=AUTH, timeout=60)
        for f in futures:  # purged jobs answer 404 to their waiters at once
            f.exception()
    return Waiting(min(held, still_held), pct(busy, 50), pct(busy, 99), pct(idle, 50), pct(idle, 99))


def median(values: list[float]) -> float:
    return statistics.median(values)
