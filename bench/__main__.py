"""`make bench`: the core figures, each beside its raw-Celery baseline, medians of several runs."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path
from statistics import median
from urllib.parse import urlparse, urlunparse

from redis import Redis

from . import concurrency, measure
from .stack import running


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (medians reported)")
    parser.add_argument("--only", default="roundtrip,throughput,waiting,concurrency")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each throughput run")
    args = parser.parse_args(argv)
    # A SIGTERM (a timeout, Ctrl-C's sibling) unwinds, so the processes started here are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    url = urlunparse(urlparse(base)._replace(path=f"/{os.environ.get('JOBGATE_BENCH_REDIS_DB', '15')}"))
    Redis.from_url(url).flushdb()
    only = set(args.only.split(","))
    logdir = Path(tempfile.mkdtemp(prefix="jobgate-bench-"))
    print(f"jobgate bench: Redis {url}, {os.cpu_count()} CPUs, {args.repeat} runs each, logs in {logdir}")
    if only & {"roundtrip", "throughput", "waiting"}:
        core(url, logdir, only, args)
    if "concurrency" in only:
        concurrency.report(url, logdir, args.repeat)
    return 0


def core(url: str, logdir: Path, only: set[str], args: argparse.Namespace) -> None:
    """(a) round trip, (b) submission throughput, (c) waiting capacity, on one stack."""
    with running(url, logdir) as stack:
        if "roundtrip" in only:
            runs = [measure.roundtrip(stack) for _ in range(args.repeat)]
            for r in runs:
                print(
                    f"  run: /runsync p50 {r.jobgate_p50_ms:.2f} p99 {r.jobgate_p99_ms:.2f} ms | "
                    f"celery p50 {r.celery_p50_ms:.2f} p99 {r.celery_p99_ms:.2f} ms"
                )
            j50, j99 = median(r.jobgate_p50_ms for r in runs), median(r.jobgate_p99_ms for r in runs)
            c50, c99 = median(r.celery_p50_ms for r in runs), median(r.celery_p99_ms for r in runs)
            print(
                f"(a) 200 sequential round trips on echo, median of {args.repeat} runs:\n"
                f"    jobgate /runsync          p50 {j50:7.2f} ms   p99 {j99:7.2f} ms\n"
                f"    celery apply_async().get() p50 {c50:7.2f} ms   p99 {c99:7.2f} ms\n"
                f"    ratio jobgate/celery      p50 {j50 / c50:7.2f}x     p99 {j99 / c99:7.2f}x"
            )
        if "throughput" in only:
            runs_t = [measure.throughput(stack, seconds=args.seconds) for _ in range(args.repeat)]
            for ours, theirs in runs_t:
                print(f"  run: /run {ours:.0f} req/s | bare apply_async route {theirs:.0f} req/s")
            ours, theirs = median(o for o, _ in runs_t), median(t for _, t in runs_t)
            print(
                f"(b) /run throughput, {measure.load_tool()}, 32 connections, {args.seconds} s, "
                f"one gunicorn gevent process each, median of {args.repeat} runs:\n"
                f"    jobgate /run              {ours:8.0f} req/s\n"
                f"    bare Flask + apply_async  {theirs:8.0f} req/s\n"
                f"    ratio jobgate/bare        {ours / theirs:8.2f}x"
            )
        if "waiting" in only:
            runs_w = [measure.waiting(stack) for _ in range(args.repeat)]
            for w in runs_w:
                print(
                    f"  run: held {w.held}; /status p50 {w.status_p50_ms:.2f} p99 {w.status_p99_ms:.2f} ms"
                    f" | idle p50 {w.idle_status_p50_ms:.2f} p99 {w.idle_status_p99_ms:.2f} ms"
                )
            held = median(w.held for w in runs_w)
            b50, b99 = median(w.status_p50_ms for w in runs_w), median(w.status_p99_ms for w in runs_w)
            i50, i99 = median(w.idle_status_p50_ms for w in runs_w), median(w.idle_status_p99_ms for w in runs_w)
            print(
                f"(c) 400 concurrent waiting /runsync calls on one gateway process, median of {args.repeat}:\n"
                f"    calls held                {held:8.0f}\n"
                f"    /status while held        p50 {b50:7.2f} ms   p99 {b99:7.2f} ms\n"
                f"    /status with none waiting p50 {i50:7.2f} ms   p99 {i99:7.2f} ms\n"
                f"    ratio held/idle           p50 {b50 / i50:7.2f}x     p99 {b99 / i99:7.2f}x"
            )


if __name__ == "__main__":
    sys.exit(main())
