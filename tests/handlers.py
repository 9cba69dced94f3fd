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


def slow_openai(job):
    """A chat completion stream whose second chunk comes 3 s after the first."""
    head = {"id": "chatcmpl-slow", "object": "chat.completion.chunk", "created": 0, "model": "echo"}
    for k, word in enumerate(["first", " second"]):
        if k:
            time.sleep(3)
        yield {**head, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
    yield {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
