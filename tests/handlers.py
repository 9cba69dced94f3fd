"""Tiny handlers, one per behaviour under test (loaded by file path from endpoints.toml)."""
import os
import time

from celery.exceptions import SoftTimeLimitExceeded


def shout(job):
    return str(job["input"]).upper()


def stubborn(job):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            time.sleep(0.1)
        except SoftTimeLimitExceeded:
            pass
    return "never"


_hoard = []
_counter = None
# Test-only keys written by `counted`; they expire like everything else.
COUNTER_TTL_S = 3600


def _redis():
    global _counter
    if _counter is None:
        from redis import Redis

        _counter = Redis.from_url(os.environ["REDIS_URL"])
    return _counter


def counted(job):
    """Counts each run of a job, and each run that got to the end, in Redis; sleeps in between."""
    r, params = _redis(), job["input"]
    runs, finished = f"test:runs:{job['id']}", f"test:finished:{job['id']}"
    r.pipeline().incr(runs).expire(runs, COUNTER_TTL_S).execute()
    time.sleep(float(params.get("sleep", 0)))
    r.pipeline().incr(finished).expire(finished, COUNTER_TTL_S).execute()
    return {"n": params.get("n")}


def leaky(job):
    """Keeps ``input.mb`` megabytes alive in this process for good; returns the process id."""
    _hoard.append(bytearray(b"\x01") * (int(job["input"]["mb"]) << 20))
    return os.getpid()
