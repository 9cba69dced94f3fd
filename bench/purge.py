"""Time /purge-queue on many queued jobs (default 100,000): ``python -m bench.purge [--jobs N]``.

Jobs are queued with the gateway's own dispatcher (a job record plus a real Celery message
each, as /run makes them) on an endpoint no worker serves, then purged through the route.
Uses REDIS_URL (default redis://127.0.0.1:6379/0) under the key prefix ``jgbench`` and the
Celery queue ``jobgate.bench-purge``, so a live jobgate in the same database is untouched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.core.settings import Settings  # noqa: E402

ENDPOINT = "bench-purge"


def queue_jobs(gateway, n: int, threads: int = 8) -> float:
    """Queue ``n`` jobs; returns the seconds it took."""
    endpoint = gateway.endpoint(ENDPOINT)
    started = time.perf_counter()

    def submit(k: int) -> None:
        gateway.dispatcher.submit(endpoint, {"input": {"k": k}}, sync=False)

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(submit, range(n), chunksize=500):
            pass
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        endpoints = Path(tmp) / "endpoints.toml"
        endpoints.write_text(
            f'[endpoints.{ENDPOINT}]\nhandler = "workers.examples:echo"\nmax_queue = {args.jobs * 2}\n'
        )
        settings = Settings.from_env(api_keys="bench", endpoints_file=str(endpoints), key_prefix="jgbench")
        app = create_app(settings)
        gateway = app.extensions["jobgate"]
        client = app.test_client()
        auth = {"Authorization": "Bearer bench"}
        queue = gateway.endpoint(ENDPOINT).queue
        client.post(f"/v2/{ENDPOINT}/purge-queue", headers=auth)  # leftovers of an interrupted run

        took = queue_jobs(gateway, args.jobs)
        in_queue = client.get(f"/v2/{ENDPOINT}/health", headers=auth).get_json()["jobs"]["inQueue"]
        messages = gateway.redis.llen(queue)
        print(
            f"queued {args.jobs} jobs in {took:.1f} s ({args.jobs / took:.0f}/s); "
            f"/health inQueue={in_queue}, broker messages={messages}"
        )

        started = time.perf_counter()
        r = client.post(f"/v2/{ENDPOINT}/purge-queue", headers=auth)
        purge_s = time.perf_counter() - started
        body = r.get_json()
        left = client.get(f"/v2/{ENDPOINT}/health", headers=auth).get_json()["jobs"]["inQueue"]
        print(
            f"purge-queue: {body} in {purge_s:.3f} s (HTTP {r.status_code}); "
            f"left: inQueue={left}, broker messages={gateway.redis.llen(queue)}, "
            f"job records={sum(1 for _ in gateway.redis.scan_iter('jgbench:job:*', count=10000))}"
        )
    return 0 if body.get("removed") == args.jobs else 1


if __name__ == "__main__":
    os.environ.setdefault("JOBGATE_LOG_LEVEL", "WARNING")
    sys.exit(main())
