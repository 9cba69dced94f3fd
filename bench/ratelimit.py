"""/run throughput with rate limiting on and off, one load tool (wrk), one run.

    python -m bench.ratelimit [--seconds 10] [--repeat 3] [--connections 32]

Two gunicorn gateways (one gevent process each) on the same Redis: one with
JOBGATE_RATE_LIMITS=0, one with limits on. Three measurements, each median of --repeat:
  off       limits switched off (auth, body cap and queue-depth check still run)
  on        limits counted in Redis on every call but never reached (their cost)
  contract  the contract's /run limit (1000 per 10 s): what callers get, accepted vs 429
The Redis database (JOBGATE_BENCH_REDIS_DB, default 15) is flushed before each measurement.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from urllib.parse import urlparse, urlunparse

import requests
from redis import Redis

from .stack import API_KEY, ROOT, Stack, free_port

ENDPOINTS = ROOT / "bench" / "ratelimit_endpoints.toml"
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"input": {"x": 1}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


@dataclass
class Load:
    requests: int
    refused: int
    seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def accepted_rps(self) -> float:
        return (self.requests - self.refused) / self.seconds


def wrk(url: str, connections: int, seconds: int, script: str) -> Load:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script, url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if total is None:
        raise RuntimeError(f"unreadable wrk output:\n{out}")
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    took = float(total.group(2)) / (1000 if total.group(3) == "ms" else 1)
    return Load(int(total.group(1)), int(refused.group(1)) if refused else 0, took)


def gateway(stack: Stack, name: str, rate_limits: bool) -> str:
    port = free_port()
    stack.spawn(
        name,
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"],
        JOBGATE_HOST="127.0.0.1",
        JOBGATE_PORT=str(port),
        JOBGATE_WEB_WORKERS="1",
        JOBGATE_ENDPOINTS_FILE=str(ENDPOINTS),
        JOBGATE_RATE_LIMITS="1" if rate_limits else "0",
    )
    return f"http://127.0.0.1:{port}"


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/openapi.json", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ratelimit", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("bench.ratelimit needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    url = urlunparse(urlparse(base)._replace(path=f"/{os.environ.get('JOBGATE_BENCH_REDIS_DB', '15')}"))
    redis = Redis.from_url(url)
    logdir = Path(tempfile.mkdtemp(prefix="jobgate-bench-ratelimit-"))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % API_KEY)
    print(
        f"jobgate bench ratelimit: Redis {url}, {os.cpu_count()} CPUs, wrk {args.connections} connections, "
        f"{args.seconds} s x {args.repeat} runs each, logs in {logdir}"
    )
    stack = Stack(url, logdir)
    try:
        off, on = gateway(stack, "limits-off", False), gateway(stack, "limits-on", True)
        wait_up(off)
        wait_up(on)
        cases = {"off": f"{off}/v2/roomy/run", "on": f"{on}/v2/roomy/run", "contract": f"{on}/v2/contract/run"}
        results: dict[str, list[Load]] = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, target in cases.items():
                redis.flushdb()
                load = wrk(target, args.connections, args.seconds, f.name)
                results[name].append(load)
                print(
                    f"  run: {name:8} {load.rps:8.0f} req/s, {load.accepted_rps:8.0f} accepted/s, "
                    f"{load.refused} refused"
                )
    finally:
        stack.stop()
        redis.flushdb()
    med = {name: (median(r.rps for r in runs), median(r.accepted_rps for r in runs)) for name, runs in results.items()}
    print(
        f"/run throughput, one gunicorn gevent process, wrk -c{args.connections} -d{args.seconds}s, "
        f"median of {args.repeat}:\n"
        f"    rate limiting off                      {med['off'][0]:8.0f} req/s\n"
        f"    rate limiting on, limits not reached   {med['on'][0]:8.0f} req/s  "
        f"({med['on'][0] / med['off'][0]:.2f}x of off)\n"
        f"    rate limiting on, contract's 1000/10 s {med['contract'][0]:8.0f} req/s answered, "
        f"{med['contract'][1]:.0f}/s accepted, the rest 429"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
