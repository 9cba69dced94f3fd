"""Many jobs per worker process, each figure beside the one-job-at-a-time run on this machine.

(d) 200 jobs of a handler that awaits 0.1 s, one worker process: max_concurrency 32 against 1.
(e) 512 jobs of echo-batch's step (0.05 s per call), one process: batch {max_size 32, wait_ms 10}
    against a call per job; and a lone job's /runsync latency, batched against unbatched.
(f) 64 concurrent streamed chat completions (the official openai client) on echo-openai
    (max_concurrency 64), one process: whether all 64 stream at once, and the time to first
    token p50 against a single request's.

Throughput is the worker's: the jobs are queued first, then the worker is started, and the
figure is jobs / (last end - first start), read from the job records.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from redis import Redis

from .stack import API_KEY, ROOT, Stack, _wait_http

AUTH = {"Authorization": f"Bearer {API_KEY}"}
ENDPOINTS = ROOT / "bench" / "concurrency_endpoints.toml"
WORDS = " ".join(f"word{k}" for k in range(30))
# Time per streamed token, as a model's decoding step (the example's echo_delay_ms).
TOKEN_DELAY_MS = 50
# Gateway processes (gunicorn gevent), as in the other sections.
WEB_WORKERS = int(os.environ.get("JOBGATE_BENCH_WEB_WORKERS", "1"))


@contextlib.contextmanager
def gateway(redis_url: str, logdir: Path) -> Iterator[Stack]:
    stack = Stack(redis_url, logdir, ENDPOINTS)
    try:
        stack.gunicorn("conc-gateway", stack.gateway, "app:create_app()", web_workers=WEB_WORKERS)
        _wait_http(stack.gateway)
        yield stack
    finally:
        stack.stop()


@contextlib.contextmanager
def worker(stack: Stack, endpoint: str) -> Iterator[None]:
    """One `jobgate worker -e ENDPOINT` (one process), until its heartbeat is seen."""
    redis = Redis.from_url(stack.redis_url, decode_responses=True)
    name = f"bench-{endpoint}-{time.monotonic_ns()}"
    stack.spawn(name, [sys.executable, "-m", "app.cli", "worker", "-e", endpoint, "-n", f"{name}@%h", "-l", "WARNING"])
    proc = stack.procs[-1]
    try:
        deadline = time.monotonic() + 60
        while not redis.keys(f"jg:worker:{name}@*"):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"worker for {endpoint} did not start; see {stack.logdir / (name + '.log')}")
            time.sleep(0.1)
        yield
    finally:
        stack.stop_process(proc)


def submit(stack: Stack, endpoint: str, inputs: list[dict]) -> list[str]:
    session = requests.Session()
    ids = []
    for job_input in inputs:
        r = session.post(f"{stack.gateway}/v2/{endpoint}/run", json={"input": job_input}, headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    return ids


def worker_throughput(stack: Stack, endpoint: str, inputs: list[dict]) -> float:
    """Queue the jobs, start a worker, wait for them all: jobs per second of the worker."""
    redis = Redis.from_url(stack.redis_url, decode_responses=True)
    ids = submit(stack, endpoint, inputs)
    with worker(stack, endpoint):
        deadline = time.monotonic() + 600
        while True:
            statuses = [redis.hget(f"jg:job:{i}", "status") for i in ids]
            if all(s == "COMPLETED" for s in statuses):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{endpoint}: not all jobs completed: {set(statuses)}")
            time.sleep(0.2)
    spans = [tuple(map(int, redis.hmget(f"jg:job:{i}", "started", "finished"))) for i in ids]
    seconds = (max(f for _, f in spans) - min(s for s, _ in spans)) / 1000
    return len(ids) / seconds


def lone_latency_ms(stack: Stack, endpoint: str, n: int = 20) -> float:
    """Median /runsync round trip of one job at a time."""
    session = requests.Session()
    times = []
    with worker(stack, endpoint):
        for i in range(n + 3):
            t0 = time.perf_counter()
            url = f"{stack.gateway}/v2/{endpoint}/runsync"
            r = session.post(url, json={"input": {"i": i}}, headers=AUTH, timeout=30)
            assert r.json()["status"] == "COMPLETED", r.text
            if i >= 3:  # the first calls warm connections and imports
                times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


@dataclass
class Streams:
    single_ttft_ms: float
    ttft_p50_ms: float
    all_at_once: bool
    overlap_ms: float


def openai_streams(stack: Stack, n: int = 64) -> Streams:
    """One streamed chat completion at a time (after a warm-up), then ``n`` at once."""
    import asyncio

    import openai

    async def measure() -> tuple[list[tuple[float, float, float]], list[tuple[float, float, float]]]:
        base = f"{stack.gateway}/v2/echo-openai/openai/v1"
        client = openai.AsyncOpenAI(base_url=base, api_key=API_KEY, max_retries=0, timeout=120)

        async def one() -> tuple[float, float, float]:
            t0, first = time.perf_counter(), None
            stream = await client.chat.completions.create(
                model="echo",
                messages=[{"role": "user", "content": WORDS}],
                stream=True,
                extra_body={"echo_delay_ms": TOKEN_DELAY_MS},
            )
            async for chunk in stream:
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.perf_counter()
            return t0, first or time.perf_counter(), time.perf_counter()

        async with client:
            singles = [await one() for _ in range(6)]
            together = await asyncio.gather(*(one() for _ in range(n)))
        return singles[1:], list(together)

    with worker(stack, "echo-openai"):
        singles, results = asyncio.run(measure())
    single = statistics.median((first - t0) * 1000 for t0, first, _ in singles)
    ttft = statistics.median((first - t0) * 1000 for t0, first, _ in results)
    latest_first = max(first for _, first, _ in results)
    earliest_end = min(end for _, _, end in results)
    return Streams(single, ttft, latest_first < earliest_end, (earliest_end - latest_first) * 1000)


def report(redis_url: str, logdir: Path, repeat: int) -> None:
    """Run (d), (e), (f) ``repeat`` times each and print every run and the medians."""
    with gateway(redis_url, logdir) as stack:
        runs = []
        for _ in range(repeat):
            one = worker_throughput(stack, "await-one", [{"sleep": 0.1}] * 200)
            many = worker_throughput(stack, "await-32", [{"sleep": 0.1}] * 200)
            runs.append((one, many))
            print(f"  run: 200 x await 0.1 s: one at a time {one:.1f} jobs/s | max_concurrency 32 {many:.1f} jobs/s")
        one, many = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(
            f"(d) 200 jobs awaiting 0.1 s, one worker process, median of {repeat} runs:\n"
            f"    max_concurrency 1        {one:8.1f} jobs/s\n"
            f"    max_concurrency 32       {many:8.1f} jobs/s\n"
            f"    ratio                    {many / one:8.1f}x"
        )
        runs_b = []
        for _ in range(repeat):
            plain = worker_throughput(stack, "step-one", [{}] * 512)
            batched = worker_throughput(stack, "step-batch", [{}] * 512)
            lone_plain = lone_latency_ms(stack, "step-one")
            lone_batched = lone_latency_ms(stack, "step-batch")
            runs_b.append((plain, batched, lone_plain, lone_batched))
            print(
                f"  run: 512 x 0.05 s step: per job {plain:.1f} jobs/s | batch 32 {batched:.1f} jobs/s | "
                f"lone /runsync {lone_plain:.1f} ms unbatched, {lone_batched:.1f} ms batched"
            )
        plain, batched, lone_plain, lone_batched = (statistics.median(r[k] for r in runs_b) for k in range(4))
        print(
            f"(e) 512 jobs of echo-batch's 0.05 s step, one worker process, median of {repeat} runs:\n"
            f"    a call per job           {plain:8.1f} jobs/s\n"
            f"    batch 32, wait 10 ms     {batched:8.1f} jobs/s\n"
            f"    ratio                    {batched / plain:8.1f}x\n"
            f"    lone job /runsync        {lone_plain:8.1f} ms unbatched, {lone_batched:.1f} ms batched "
            f"(+{lone_batched - lone_plain:.1f} ms; bound: +10 ms wait + 5 ms)"
        )
        runs_s = []
        for _ in range(repeat):
            s = openai_streams(stack)
            runs_s.append(s)
            print(
                f"  run: 64 streams: all at once {s.all_at_once} (overlap {s.overlap_ms:.0f} ms); "
                f"TTFT p50 {s.ttft_p50_ms:.1f} ms | single request {s.single_ttft_ms:.1f} ms"
            )
        single = statistics.median(s.single_ttft_ms for s in runs_s)
        ttft = statistics.median(s.ttft_p50_ms for s in runs_s)
        print(
            f"(f) 64 concurrent streamed chat completions (openai client, {TOKEN_DELAY_MS} ms per token, 30 tokens), "
            f"echo-openai, one worker process, median of {repeat} runs:\n"
            f"    all 64 streaming at once {all(s.all_at_once for s in runs_s)} in every run\n"
            f"    TTFT single request      {single:8.1f} ms\n"
            f"    TTFT p50 of 64           {ttft:8.1f} ms\n"
            f"    ratio                    {ttft / single:8.2f}x"
        )
