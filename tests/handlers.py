"""Tiny handlers, one per behaviour under test (loaded by file path from endpoints.toml)."""
import threading
import time
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from workers import progress_update


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


def unstoppable(job):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            time.sleep(0.1)
        except BaseException:  # noqa: B036 - swallowing the stop is the point
            pass
    return "never"


def late_progress(job):
    # An update that arrives after the job has ended must be ignored.
    threading.Timer(0.5, progress_update, (job, "late")).start()
    return "done"


def big_chunk(job):
    yield {"small": 1}
    yield "x" * (1024 * 1024 + 10)
    yield {"never": 1}


def touch(job):
    Path(job["input"]["path"]).touch()
    return "touched"


def flaky(job):
    # Fails the first time (leaving input.path behind), then returns its input after a pause.
    marker = Path(job["input"]["path"])
    if not marker.exists():
        marker.touch()
        raise RuntimeError("first attempt fails")
    time.sleep(float(job["input"].get("sleep", 0)))
    return job["input"]


async def async_sleeper(job):
    # Records that a stop reached it as asyncio.CancelledError, then lets it through.
    import asyncio

    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        Path(job["input"]["path"]).touch()
        raise
    return "slept"
