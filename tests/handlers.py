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


# What this pool process saw when it imported this module, before any handler ran.
IMPORTED_WITH_GPUS = os.environ.get("CUDA_VISIBLE_DEVICES")


def visible_gpus(job):
    """The GPUs this process may use: at import and now, and which process it is."""
    params = job["input"] if isinstance(job["input"], dict) else {}
    time.sleep(float(params.get("sleep", 0)))
    return {"imported_with": IMPORTED_WITH_GPUS, "now": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "order": os.environ.get("CUDA_DEVICE_ORDER"), "pid": os.getpid()}
