"""Tiny handlers, one per behaviour under test (loaded by file path from endpoints.toml)."""
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
